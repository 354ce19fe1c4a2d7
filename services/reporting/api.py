"""The reporting service's HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.reporting.schemas import ProgrammeList
from services.reporting.service import ReportingService
from shared.status import ServiceStatus

router = APIRouter(prefix="/v1")


def reporting(request: Request) -> ReportingService:
    found: ReportingService = request.app.state.service
    return found


ReportingDep = Annotated[ReportingService, Depends(reporting)]


@router.get("/status", response_model=ServiceStatus, tags=["operations"])
async def status(service: ReportingDep) -> ServiceStatus:
    """Per stream: the last sequence applied, pending messages, freshness, dead letters."""
    return await service.status()


@router.get("/programmes", response_model=ProgrammeList, tags=["reference"])
async def programmes(service: ReportingDep) -> ProgrammeList:
    """The programmes as the read model holds them."""
    return ProgrammeList(items=await service.programmes())
