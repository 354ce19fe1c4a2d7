"""The registry's HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from services.registry.schemas import Programme, ProgrammeCode, ProgrammeIn, ProgrammeList
from services.registry.service import ProgrammeService
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")


class Registry:
    """What the routes reach: the use cases, and the runtime to wake the outbox relay."""

    def __init__(self, runtime: ServiceRuntime, programmes: ProgrammeService) -> None:
        self.runtime = runtime
        self.programmes = programmes


def registry(request: Request) -> Registry:
    found: Registry = request.app.state.service
    return found


RegistryDep = Annotated[Registry, Depends(registry)]
CodePath = Annotated[ProgrammeCode, Path(description="Programme code, e.g. `P8`")]


@router.put(
    "/programmes/{code}",
    response_model=Programme,
    tags=["programmes"],
    summary="Create or update a programme",
    responses={201: {"model": Programme, "description": "Created"}},
)
async def put_programme(
    code: CodePath, body: ProgrammeIn, response: Response, reg: RegistryDep
) -> Programme:
    programme, created = await reg.programmes.put(code, body)
    reg.runtime.wake_relay()
    response.status_code = 201 if created else 200
    return programme


@router.get("/programmes", response_model=ProgrammeList, tags=["programmes"])
async def list_programmes(reg: RegistryDep) -> ProgrammeList:
    return ProgrammeList(items=await reg.programmes.all())


@router.get("/programmes/{code}", response_model=Programme, tags=["programmes"])
async def get_programme(code: CodePath, reg: RegistryDep) -> Programme:
    return await reg.programmes.get(code)
