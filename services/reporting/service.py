"""The reporting service's use cases: checked queries, reports, operations."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from services.reporting.access import may_read, require_reading_role, require_viewer
from services.reporting.analytics import bad_query, unit_name
from services.reporting.approval_report import ApprovalReport, state_counts
from services.reporting.approvals import ApprovalFilter, ApprovalScope, approval_filter
from services.reporting.catalogue import CATALOGUE
from services.reporting.config import ReportingSettings
from services.reporting.deadlines import DEFAULT_DEADLINES, Deadlines
from services.reporting.generations import PROJECTION, Generations, next_generation
from services.reporting.placement import Structure
from services.reporting.queries import IndicatorQueries
from services.reporting.relative_periods import TIME_ZONE, today_in_vietnam
from services.reporting.replay import Rebuilder
from services.reporting.reports import LEVELS, Reports
from services.reporting.repository import DeadLetterPages, MetaRepository, RebuildRunning
from services.reporting.schemas import ReportingStatus
from shared.audit import note_write
from shared.auth.http import require_admin
from shared.auth.principal import Principal
from shared.http import Problem
from shared.mongo import Document
from shared.periods import Period
from shared.runtime import ServiceRuntime
from shared.schemas import Programme
from shared.status import service_status


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_query("invalid-cursor", "Invalid cursor", "Unknown cursor.", "cursor") from exc


class ReportingService:
    def __init__(
        self,
        runtime: ServiceRuntime,
        generations: Generations,
        meta: MetaRepository,
        dead_letter_pages: DeadLetterPages,
        rebuilder: Rebuilder,
    ) -> None:
        self.runtime = runtime
        self.generations = generations
        self._meta = meta
        self._dead_letter_pages = dead_letter_pages
        self.rebuilder = rebuilder
        settings = runtime.settings
        own = settings if isinstance(settings, ReportingSettings) else None
        mapping_file = own.dhis2_mapping_file if own else None
        deadlines_file = own.deadlines_file if own else None
        # The indicator queries (analytics, values, DHIS2/ADX exports, map points).
        self.queries = IndicatorQueries(generations, mapping_file)
        # Read and checked once: a broken file stops the start, naming the file.
        self.deadlines = Deadlines.load(
            Path(deadlines_file) if deadlines_file else DEFAULT_DEADLINES
        )

    async def close(self) -> None:
        await self.rebuilder.stop()

    # --- queries ---------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        return [
            {
                "code": indicator.code,
                "name": indicator.name,
                "name_vi": indicator.name_vi,
                "measure": indicator.measure,
                "measure_vi": indicator.measure_vi,
                "kind": "flow" if indicator.kind == "flow" else "stock",
                "disaggregations": list(indicator.disaggregations),
                "definition": indicator.definition,
            }
            for indicator in CATALOGUE
        ]

    async def freshness(self, caller: Principal) -> dict[str, Any]:
        """How recent the figures are, for every client that reads them."""
        require_reading_role(caller)
        status = await service_status(self.runtime)
        return {
            "checked_at": datetime.now(UTC),
            "streams": [
                {
                    "stream": stream.stream,
                    "last_event_time": stream.last_event_time,
                    "applied_at": stream.applied_at,
                    "age_ms": stream.age_ms,
                    "pending": stream.pending,
                }
                for stream in status.streams
            ],
        }

    def _reports(self, approval: ApprovalFilter = "all") -> Reports:
        active = self.generations.active

        async def scope_of(
            programme: str | None, periods: Sequence[Period]
        ) -> ApprovalScope | None:
            return await self.queries.scope(approval, programme, periods)

        return Reports(active.models, active.units, scope_of)

    def today(self) -> date:
        """Today's date in Vietnam, on the queries' clock (tests set a fixed one)."""
        return today_in_vietnam(self.queries.clock())

    async def summary(
        self,
        caller: Principal,
        unit_id: str,
        period: str,
        structure: Structure,
        programme: str | None,
        approval: str | None = None,
    ) -> dict[str, Any]:
        self.queries.unit(caller, unit_id, structure)
        checked = self.queries.period(period)
        chosen = approval_filter(approval)
        items = await self._reports(chosen).summary(unit_id, checked, structure, programme)
        return {
            "unit_id": unit_id,
            "unit_name": unit_name(unit_id, self.generations.active.units),
            "period": checked.key,
            "structure": structure,
            "programme": programme,
            "approval": chosen,
            "items": items,
            "as_of": datetime.now(UTC),
        }

    async def targets(
        self,
        caller: Principal,
        programme: str | None,
        unit_id: str | None,
        period: str | None,
        below: bool = False,
        approval: str | None = None,
    ) -> list[dict[str, Any]]:
        """With `unit_id`, that unit's targets (and its descendants' with `below`; 403
        outside the caller's provinces; a unit unknown here needs national scope);
        without it, the targets on units of the caller's provinces (all of them with
        national scope). Without `programme`, the targets of every programme; with
        `period`, the targets whose period lies within it (a quarter's within its year).
        With `approval=approved`, the actual figures count approved data only."""
        units = self.generations.active.units
        if unit_id is not None:
            require_viewer(caller, unit_id, units)
        else:
            require_reading_role(caller)
        within = self.queries.period(period) if period is not None else None
        chosen = approval_filter(approval)
        if programme is not None:
            programmes = [programme]
        else:
            programmes = [str(item["_id"]) for item in await self._all_programmes()]
        return await self._reports(chosen).targets(
            programmes, unit_id, within, lambda unit: may_read(caller, unit, units), below
        )

    async def completeness(
        self,
        caller: Principal,
        period: str,
        level: str | None,
        parent: str,
        programme: str | None = None,
    ) -> dict[str, Any]:
        self.queries.unit(caller, parent, field="parent")
        checked = self.queries.period(period)
        level = self._checked_level(parent, level)
        items = await self._reports().completeness(parent, level, checked, programme)
        reported = sum(1 for item in items if item["reported"])
        approved = sum(1 for item in items if item["approved"])
        rate = reported / len(items) if items else None
        approved_rate = approved / len(items) if items else None
        return {
            "parent": parent,
            "level": level,
            "period": checked.key,
            "programme": programme,
            "items": items,
            "units": len(items),
            "reported": reported,
            "rate": None if rate is None else round(rate, 4),
            "rate_pct": None if rate is None else round(rate * 100, 1),
            "approved": approved,
            "approved_rate": None if approved_rate is None else round(approved_rate, 4),
            "approved_rate_pct": None if approved_rate is None else round(approved_rate * 100, 1),
            "as_of": datetime.now(UTC),
        }

    async def approvals(
        self, caller: Principal, programme: str, period: str, unit_id: str, level: str | None
    ) -> dict[str, Any]:
        """The approval state of each unit at `level` below `unit_id` for a programme's
        period, with deadline and overdue flag (approval_report.py)."""
        self.queries.unit(caller, unit_id)
        checked = self.queries.period(period)
        level = self._checked_level(unit_id, level)
        active = self.generations.active
        today = self.today()
        report = ApprovalReport(active.models, active.units, self.deadlines)
        deadline, items = await report.items(programme, checked, unit_id, level, today)
        return {
            "programme": programme,
            "period": checked.key,
            "unit_id": unit_id,
            "unit_name": unit_name(unit_id, active.units),
            "level": level,
            "deadline": deadline,
            "today": today,
            "time_zone": TIME_ZONE,
            "items": items,
            "units": len(items),
            "states": state_counts(items),
            "data_approved": sum(1 for item in items if item["data_approved"]),
            "overdue": sum(1 for item in items if item["overdue"]),
            "as_of": datetime.now(UTC),
        }

    def _checked_level(self, parent: str, level: str | None) -> str:
        """`level` as asked (422 for an unknown one), or the level below `parent`."""
        if level is None:
            return self._level_below(parent)
        if level not in LEVELS:
            raise bad_query(
                "invalid-level",
                "Invalid level",
                f"level is one of {', '.join(LEVELS)}.",
                "level",
            )
        return level

    def _level_below(self, parent: str) -> str:
        """The level of a unit's children: provinces under `vn`, districts under a
        vn63 province, communes under a vn34 province or a district, villages under a
        commune."""
        node = self.generations.active.units.get(parent)
        level = "nation" if node is None else node.level
        if level == "province":
            return "district" if node is not None and node.edition == "vn63" else "commune"
        return {"nation": "province", "district": "commune"}.get(level, "village")

    async def _all_programmes(self) -> list[Document]:
        return await self.generations.active.models.all_programmes()

    async def programmes(self) -> list[Programme]:
        return [Programme.model_validate(document) for document in await self._all_programmes()]

    # --- operations ------------------------------------------------------------------

    async def status(self, caller: Principal) -> ReportingStatus:
        require_admin(caller)
        base = await service_status(self.runtime)
        return ReportingStatus(
            **base.model_dump(),
            generation=self.generations.active.generation,
            rebuild=await self._meta.rebuild(),
        )

    async def dead_letters(
        self, caller: Principal, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Document], str | None]:
        require_admin(caller)
        page = await self._dead_letter_pages.page(status, decode_cursor(cursor), limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return page, encode_cursor(page[-1]["_id"]) if more else None

    async def retry_dead_letter(self, caller: Principal, key: str) -> Document:
        require_admin(caller)
        stream = key.split(":", 1)[0]
        consumer = self.runtime.consumers.get(stream)
        letter = await consumer.retry_dead_letter(key) if consumer is not None else None
        if letter is None:
            raise Problem(
                404, "unknown-dead-letter", "Unknown dead letter", f"No dead letter {key!r}."
            )
        if letter.get("status") != "retried":
            raise Problem(
                409,
                "retry-failed",
                "Retry failed",
                f"The message still cannot be applied: {letter.get('error')}",
                dead_letter=_letter(letter),
            )
        note_write("dead-letter.retried", key)
        return letter

    async def start_rebuild(self, caller: Principal) -> dict[str, Any]:
        require_admin(caller)
        if not self.runtime.streams_ready.is_set():
            raise Problem(
                503,
                "nats-unavailable",
                "NATS unavailable",
                "The streams cannot be read now; try again when /readyz is ready.",
            )
        try:
            if self.runtime.holds(PROJECTION):
                state = await self.rebuilder.start()
            else:
                # Another replica projects: it starts the rebuild at its next look.
                state = await self._meta.request_rebuild(
                    next_generation(self.generations.active.generation)
                )
        except RebuildRunning as exc:
            raise Problem(
                409,
                "rebuild-running",
                "Rebuild already running",
                "A rebuild is under way; follow it in GET /v1/status.",
            ) from exc
        generation = str(state["generation"])
        number = generation[1:]
        note_write("rebuild.started", generation, int(number) if number.isdigit() else None)
        return state


def _letter(document: Document) -> dict[str, Any]:
    return {
        key: (value.isoformat() if isinstance(value, datetime) else value)
        for key, value in document.items()
    }
