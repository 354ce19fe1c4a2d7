"""What the registry's routes depend on: the assembled service and shared parameters.

`main.py` builds every part (the one composition root); routes only reach them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from services.registry.access import ClientService, KeyStore
from services.registry.approvals import ApprovalService
from services.registry.clubs import RegisterService
from services.registry.config import RegistrySettings
from services.registry.imports import ImportService
from services.registry.loader import ReferenceLoader
from services.registry.locks import LockService
from services.registry.members import BulkMembers, MemberService
from services.registry.programmes import ProgrammeService
from services.registry.schemas import CreatedId, ProgrammeCode
from services.registry.service import UnitService
from shared.auth.http import Caller, RevocationList
from shared.runtime import ServiceRuntime
from shared.versioned import Outcome

__all__ = ["Caller"]


@dataclass
class Access:
    clients: ClientService
    keys: KeyStore
    lifetime_seconds: int
    revocations: RevocationList


@dataclass
class Registry:
    """What the routes reach: the use cases, the runtime and the settings."""

    runtime: ServiceRuntime
    settings: RegistrySettings
    units: UnitService
    programmes: ProgrammeService
    registers: RegisterService
    members: MemberService
    bulk: BulkMembers
    imports: ImportService
    loader: ReferenceLoader
    access: Access
    locks: LockService
    approvals: ApprovalService


def registry(request: Request) -> Registry:
    found: Registry = request.app.state.service
    return found


def access(request: Request) -> Access:
    return registry(request).access


RegistryDep = Annotated[Registry, Depends(registry)]
AccessDep = Annotated[Access, Depends(access)]
CodePath = Annotated[ProgrammeCode, Path(description="Programme code, e.g. `P8`")]
UnitPath = Annotated[
    str,
    Path(
        max_length=60,
        description="A unit id: `vn`, `vn63:06433`, `vn34:20`, `vn63:06433.T05`",
    ),
]
RecordPath = Annotated[str, Path(max_length=100, description="The id the registry gave")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=400, description="`next_cursor` of the previous page")
]
AsOf = Annotated[date | None, Query(description="Count members on this day (default: today)")]
UpdatedSince = Annotated[
    datetime | None,
    Query(
        description="Only records written at or after this moment (RFC 3339): for syncing "
        "a copy. Records last written before this filter existed never match it."
    ),
]
CREATED: dict[int | str, dict[str, Any]] = {201: {"model": CreatedId, "description": "Created"}}


def answer_status(response: Response, outcome: Outcome | bool) -> None:
    """201 for a creation, 200 otherwise."""
    created = outcome if isinstance(outcome, bool) else outcome == Outcome.CREATED
    response.status_code = 201 if created else 200
