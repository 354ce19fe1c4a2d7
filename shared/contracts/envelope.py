"""CloudEvents 1.0 JSON envelope, with the `correlationid` and `province` extensions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from shared.contracts.catalogue import EventKind, kind_for_type
from shared.logging import current_client_id


class EnvelopeError(ValueError):
    """A message that is not a valid event of a known type: it goes to dead letters."""


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    subject: str | None = Field(default=None, max_length=500)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str = Field(min_length=1, max_length=200)
    # Province the data belongs to (`vn63:20`, `vn34:20`), so consumers can route
    # and rebuild per province; absent for national reference data.
    province: str | None = Field(default=None, max_length=50)
    # The API client whose request caused the event; absent for system work.
    clientid: str | None = Field(default=None, max_length=200)
    data: dict[str, Any]
    # `data` validated against its type's model, once (`typed_data`).
    _typed: BaseModel | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        """Equal when every field is (what was validated from it aside)."""
        if not isinstance(other, CloudEvent):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @classmethod
    def new(
        cls,
        kind: EventKind,
        data: BaseModel,
        *,
        source: str,
        subject: str,
        correlation_id: str,
        province: str | None = None,
        client_id: str | None = None,
        event_id: str | None = None,
    ) -> CloudEvent:
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=kind.type,
            subject=subject,
            time=datetime.now(UTC),
            correlationid=correlation_id,
            province=province,
            clientid=client_id if client_id is not None else current_client_id(),
            data=data.model_dump(mode="json"),
        )

    @property
    def kind(self) -> EventKind:
        kind = kind_for_type(self.type)
        if kind is None:
            raise EnvelopeError(f"unknown event type {self.type!r}")
        return kind

    def typed_data(self) -> BaseModel:
        """The data validated against its type's model (raises `EnvelopeError`)."""
        if self._typed is None:
            try:
                self._typed = self.kind.data_model.model_validate(self.data)
            except ValidationError as exc:
                raise EnvelopeError(f"invalid data for {self.type}: {exc}") from exc
        return self._typed

    def to_document(self) -> dict[str, Any]:
        """The JSON form, as stored in an outbox and sent on the wire."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_document())


def parse_envelope(raw: bytes) -> CloudEvent:
    """Parse and validate a message body: envelope, known type and data model."""
    try:
        event = CloudEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise EnvelopeError(f"not a CloudEvents 1.0 envelope: {exc}") from exc
    event.typed_data()
    return event
