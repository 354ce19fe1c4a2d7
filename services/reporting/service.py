"""The reporting service's use cases: checked queries, reports, operations."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.reporting.access import may_read, require_reading_role, require_viewer
from services.reporting.adx import adx_message
from services.reporting.analytics import (
    MAX_INDICATORS,
    MAX_PERIODS,
    MAX_UNITS,
    AnalyticsRequest,
    Answered,
    analytics_rows,
    bad_query,
    check_by,
    check_levels,
    check_size,
    parse_by,
    periods_echo,
    split_list,
    totals,
    unit_name,
    values_rows,
)
from services.reporting.catalogue import CATALOGUE, INDICATORS, Indicator
from services.reporting.config import ReportingSettings
from services.reporting.datavaluesets import data_value_set
from services.reporting.generations import Generations
from services.reporting.geo import SOURCE as GEO_SOURCE
from services.reporting.geo import Centroids
from services.reporting.indicators import IndicatorEngine
from services.reporting.interop import (
    DEFAULT_MAPPING,
    DataPoint,
    Mapped,
    MappingSource,
    data_points,
)
from services.reporting.placement import Structure
from services.reporting.relative_periods import PeriodSelection, parse_periods, today_in_vietnam
from services.reporting.replay import Rebuilder, RebuildRunning
from services.reporting.reports import LEVELS, Reports
from services.reporting.repository import DeadLetterPages, MetaRepository
from services.reporting.schemas import ReportingStatus
from shared.audit import note_write
from shared.auth.http import require_admin
from shared.auth.principal import Principal
from shared.http import Problem
from shared.mongo import Document
from shared.periods import Period, PeriodError
from shared.runtime import ServiceRuntime
from shared.schemas import Programme
from shared.status import service_status
from shared.units import NATION_ID, edition_of

_bad_query = bad_query
MAX_ID = 64
MAX_MAP_UNITS = 500


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_query("invalid-cursor", "Invalid cursor", "Unknown cursor.", "cursor") from exc


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
        configured = (
            settings.dhis2_mapping_file if isinstance(settings, ReportingSettings) else None
        )
        self.mapping = MappingSource(Path(configured) if configured else DEFAULT_MAPPING)
        self.centroid_source = Centroids()
        # What "now" is for relative periods (THIS_YEAR, …); tests set a fixed one.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def close(self) -> None:
        await self.rebuilder.stop()

    # --- checks ----------------------------------------------------------------------

    def indicator(self, code: str) -> Indicator:
        found = INDICATORS.get(code)
        if found is None:
            raise Problem(
                404,
                "unknown-indicator",
                "Unknown indicator",
                f"No indicator {code!r}; GET /v1/indicators lists them.",
            )
        return found

    def period(self, text: str) -> Period:
        """One period: a period, or a relative period standing for one (THIS_YEAR)."""
        selection = self.periods(text)
        if len(selection.periods) != 1:
            raise _bad_query(
                "invalid-period",
                "One period expected",
                f"This report takes one period; {text!r} stands for {', '.join(selection.keys)}.",
                "period",
            )
        return selection.periods[0].period

    def unit(
        self,
        caller: Principal,
        unit_id: str,
        structure: Structure = "as_was",
        field: str = "unit_id",
    ) -> str:
        """A known unit (404 otherwise) whose figures the caller may read (403)."""
        units = self.generations.active.units
        if unit_id != NATION_ID and unit_id not in units:
            # Units are national reference data (the registry lists them to anyone
            # authenticated), so telling unknown from forbidden reveals nothing.
            raise Problem(
                404, "unknown-unit", "Unknown unit", f"No administrative unit {unit_id!r}."
            )
        require_viewer(caller, unit_id, units)
        if structure == "vn34" and unit_id != NATION_ID and edition_of(unit_id) != "vn34":
            raise _bad_query(
                "unit-not-in-structure",
                "Unit not in this structure",
                f"structure=vn34 restates figures onto today's units: ask for a vn34 unit "
                f"or vn, not {unit_id!r} (or use structure=as_was).",
                field,
            )
        return unit_id

    def indicators(self, text: str, field: str = "indicator") -> tuple[Indicator, ...]:
        codes = list(dict.fromkeys(split_list(text)))
        if not codes:
            raise _bad_query("validation", "Invalid request", "No indicator given.", field)
        if len(codes) > MAX_INDICATORS or any(len(code) > MAX_ID for code in codes):
            raise _bad_query(
                "validation",
                "Invalid request",
                f"At most {MAX_INDICATORS} indicator codes of at most {MAX_ID} characters.",
                field,
            )
        return tuple(self.indicator(code) for code in codes)

    def units(
        self, caller: Principal, text: str, structure: Structure, field: str = "unit_id"
    ) -> tuple[str, ...]:
        """Known units (404) the caller may read (403), from a comma list."""
        unit_ids = list(dict.fromkeys(split_list(text)))
        if not unit_ids:
            raise _bad_query("validation", "Invalid request", "No unit given.", field)
        too_long = [unit_id for unit_id in unit_ids if len(unit_id) > MAX_ID]
        if too_long or len(unit_ids) > MAX_UNITS:
            detail = (
                f"A unit id has at most {MAX_ID} characters."
                if too_long
                else f"At most {MAX_UNITS} units per request."
            )
            raise _bad_query("validation", "Invalid request", detail, field)
        return tuple(self.unit(caller, unit_id, structure, field) for unit_id in unit_ids)

    def periods(self, text: str) -> PeriodSelection:
        try:
            return parse_periods(text, today_in_vietnam(self.clock()), MAX_PERIODS)
        except PeriodError as exc:
            raise _bad_query("invalid-period", "Invalid period", str(exc), "period") from exc

    def periods_echo(self, text: str) -> dict[str, Any]:
        return periods_echo(self.periods(text))

    def analytics_request(
        self,
        caller: Principal,
        indicators: tuple[Indicator, ...],
        unit_text: str,
        period_text: str,
        by_text: str | None,
        programme: str | None,
        structure: Structure,
    ) -> AnalyticsRequest:
        """The checked request: units and scope first (404, 403), then periods and
        `by` (422), so that nothing is computed for a caller who may not see it."""
        unit_ids = self.units(caller, unit_text, structure)
        selection = self.periods(period_text)
        by = parse_by(by_text)
        for indicator in indicators:
            check_by(indicator, by)
        check_levels(unit_ids, by, self.generations.active.units)
        return AnalyticsRequest(indicators, unit_ids, selection, by, programme, structure)

    async def answer(self, request: AnalyticsRequest) -> list[Answered]:
        active = self.generations.active
        engine = IndicatorEngine(active.models, active.units)
        queries = request.queries()
        check_size(engine, queries)
        results = await engine.compute_batch(queries)
        return [Answered(query, result) for query, result in zip(queries, results, strict=True)]

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

    async def indicator_values(
        self,
        caller: Principal,
        code: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
    ) -> dict[str, Any]:
        """One indicator; with one unit and one period, the rows as they always were
        (and `total`); with several, each row also names its period and unit."""
        indicator = self.indicator(code)
        request = self.analytics_request(
            caller, (indicator,), unit_id, period, by, programme, structure
        )
        answers = await self.answer(request)
        units = self.generations.active.units
        single = len(answers) == 1
        return {
            "indicator": indicator.code,
            "unit_id": ",".join(request.unit_ids),
            "unit_name": unit_name(request.unit_ids[0], units)
            if len(request.unit_ids) == 1
            else None,
            "period": ",".join(request.selection.keys),
            **periods_echo(request.selection),
            "structure": structure,
            "programme": programme,
            "by": list(request.by),
            "rows": answers[0].result.rows
            if single
            else values_rows(
                answers, units, len(request.unit_ids) > 1, len(request.selection.periods) > 1
            ),
            "total": answers[0].result.total if single else None,
            "totals": totals(answers),
            "as_of": datetime.now(UTC),
        }

    async def analytics(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
    ) -> dict[str, Any]:
        """Several indicators, units and periods in one answer (GET /v1/analytics)."""
        indicators = self.indicators(indicator)
        request = self.analytics_request(
            caller, indicators, unit_id, period, by, programme, structure
        )
        answers = await self.answer(request)
        units = self.generations.active.units
        return {
            "indicators": [item.code for item in request.indicators],
            "units": [
                {"unit_id": unit, "unit_name": unit_name(unit, units)} for unit in request.unit_ids
            ],
            **periods_echo(request.selection),
            "structure": structure,
            "programme": programme,
            "by": list(request.by),
            "rows": analytics_rows(answers, units),
            "totals": totals(answers),
            "as_of": datetime.now(UTC),
        }

    async def data_value_sets(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
    ) -> dict[str, Any]:
        """The analytics answer as DHIS2 `dataValueSets` JSON."""
        mapped = self._mapped()
        points = await self._exchange_points(
            caller, indicator, unit_id, period, by, programme, structure
        )
        return data_value_set(points, mapped)

    async def adx(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
    ) -> bytes:
        """The analytics answer as an ADX 1.0 message."""
        mapped = self._mapped()
        points = await self._exchange_points(
            caller, indicator, unit_id, period, by, programme, structure
        )
        return adx_message(points, mapped, datetime.now(UTC))

    def _mapped(self) -> Mapped:
        # Read first: a broken mapping file is said before anything is computed.
        return Mapped(self.mapping.load(), self.mapping.path)

    async def _exchange_points(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
    ) -> list[DataPoint]:
        request = self.analytics_request(
            caller, self.indicators(indicator), unit_id, period, by, programme, structure
        )
        return data_points(await self.answer(request))

    async def centroids(self, caller: Principal, unit_text: str) -> dict[str, Any]:
        """Map points of units (reference data: any client with a reading role)."""
        require_reading_role(caller)
        unit_ids = list(dict.fromkeys(split_list(unit_text)))
        if not unit_ids or len(unit_ids) > MAX_MAP_UNITS:
            raise _bad_query(
                "validation",
                "Invalid request",
                f"unit_id is a comma list of 1 to {MAX_MAP_UNITS} unit ids.",
                "unit_id",
            )
        units = self.generations.active.units
        points = await self.centroid_source.of(unit_ids, units)
        items = []
        for unit in unit_ids:
            point = points[unit]
            node = units.get(unit)
            items.append(
                {
                    "unit_id": unit,
                    "unit_name": unit_name(unit, units),
                    "level": node.level if node else ("nation" if unit == NATION_ID else None),
                    "lat": point[0] if point else None,
                    "lon": point[1] if point else None,
                }
            )
        return {"items": items, "source": GEO_SOURCE}

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

    def _name(self, unit_id: str) -> str | None:
        node = self.generations.active.units.get(unit_id)
        return node.name if node else ("Việt Nam" if unit_id == NATION_ID else None)

    def _reports(self) -> Reports:
        active = self.generations.active
        return Reports(active.models, active.units)

    async def summary(
        self,
        caller: Principal,
        unit_id: str,
        period: str,
        structure: Structure,
        programme: str | None,
    ) -> dict[str, Any]:
        self.unit(caller, unit_id, structure)
        checked = self.period(period)
        items = await self._reports().summary(unit_id, checked, structure, programme)
        return {
            "unit_id": unit_id,
            "unit_name": self._name(unit_id),
            "period": checked.key,
            "structure": structure,
            "programme": programme,
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
    ) -> list[dict[str, Any]]:
        """With `unit_id`, that unit's targets (and its descendants' with `below`; 403
        outside the caller's provinces; a unit unknown here needs national scope);
        without it, the targets on units of the caller's provinces (all of them with
        national scope). Without `programme`, the targets of every programme; with
        `period`, the targets whose period lies within it (a quarter's within its year)."""
        units = self.generations.active.units
        if unit_id is not None:
            require_viewer(caller, unit_id, units)
        else:
            require_reading_role(caller)
        within = self.period(period) if period is not None else None
        if programme is not None:
            programmes = [programme]
        else:
            programmes = [str(item["_id"]) for item in await self._all_programmes()]
        return await self._reports().targets(
            programmes, unit_id, within, lambda unit: may_read(caller, unit, units), below
        )

    async def completeness(
        self, caller: Principal, period: str, level: str | None, parent: str
    ) -> dict[str, Any]:
        self.unit(caller, parent, field="parent")
        checked = self.period(period)
        if level is None:
            level = self._level_below(parent)
        if level not in LEVELS:
            raise _bad_query(
                "invalid-level",
                "Invalid level",
                f"level is one of {', '.join(LEVELS)}.",
                "level",
            )
        items = await self._reports().completeness(parent, level, checked)
        reported = sum(1 for item in items if item["reported"])
        rate = reported / len(items) if items else None
        return {
            "parent": parent,
            "level": level,
            "period": checked.key,
            "items": items,
            "units": len(items),
            "reported": reported,
            "rate": None if rate is None else round(rate, 4),
            "rate_pct": None if rate is None else round(rate * 100, 1),
            "as_of": datetime.now(UTC),
        }

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
            state = await self.rebuilder.start()
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
