"""The reporting service's use cases."""

from __future__ import annotations

from services.reporting.repository import ProgrammeReadModel
from services.reporting.schemas import Programme
from shared.runtime import ServiceRuntime
from shared.status import ServiceStatus, service_status


class ReportingService:
    def __init__(self, runtime: ServiceRuntime, programmes: ProgrammeReadModel) -> None:
        self.runtime = runtime
        self._programmes = programmes

    async def status(self) -> ServiceStatus:
        return await service_status(self.runtime)

    async def programmes(self) -> list[Programme]:
        return [Programme.model_validate(document) for document in await self._programmes.all()]
