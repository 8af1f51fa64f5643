"""Sources, models (with a preview of their first rows) and destinations (with a connection
check) of a workspace. Connector secrets come back masked."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from syncwright.api.deps import Operator, Viewer
from syncwright.api.problems import RESPONSES
from syncwright.domain.sync import ModelSpec
from syncwright.services.connections import PREVIEW_LIMIT, Connection

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", responses=RESPONSES)


class ConnectionOut(BaseModel):
    """A source or destination: its connector type and settings, secrets masked."""

    id: str
    name: str
    type: str
    config: dict[str, Any]
    max_runs: int | None

    @classmethod
    def of(cls, found: Connection) -> ConnectionOut:
        spec = found.spec
        return cls(
            id=spec.id, name=spec.name, type=spec.type, config=found.config, max_runs=spec.max_runs
        )


class ModelOut(BaseModel):
    """A model: a query over a source, with its primary key, reference and cursor columns."""

    id: str
    name: str
    source_id: str
    query: str
    primary_key: list[str]
    reference: str | None
    cursor: str | None

    @classmethod
    def of(cls, model: ModelSpec) -> ModelOut:
        return cls(
            id=model.id,
            name=model.name,
            source_id=model.source_id,
            query=model.query,
            primary_key=list(model.primary_key),
            reference=model.reference,
            cursor=model.cursor,
        )


class PreviewOut(BaseModel):
    """A model's first rows."""

    columns: list[str]
    rows: list[dict[str, Any]]


class CheckOut(BaseModel):
    """The outcome of connecting: ``problem`` says why it failed."""

    ok: bool
    problem: str | None


@router.get("/sources", response_model=list[ConnectionOut], tags=["sources"])
def list_sources(acting: Viewer) -> list[ConnectionOut]:
    """The workspace's sources, by name."""
    return [ConnectionOut.of(c) for c in acting.ws.connections.sources()]


@router.get("/sources/{source_id}", response_model=ConnectionOut, tags=["sources"])
def get_source(source_id: str, acting: Viewer) -> ConnectionOut:
    """One source, secrets masked."""
    return ConnectionOut.of(acting.ws.connections.source(source_id))


@router.post("/sources/{source_id}/check", response_model=CheckOut, tags=["sources"])
def check_source(source_id: str, acting: Operator) -> CheckOut:
    """Connect to the source as configured (operator)."""
    problem = acting.ws.connections.check("source", source_id)
    return CheckOut(ok=problem is None, problem=problem)


@router.get("/models", response_model=list[ModelOut], tags=["models"])
def list_models(acting: Viewer) -> list[ModelOut]:
    """The workspace's models, by name."""
    return [ModelOut.of(m) for m in acting.ws.connections.models()]


@router.get("/models/{model_id}", response_model=ModelOut, tags=["models"])
def get_model(model_id: str, acting: Viewer) -> ModelOut:
    """One model."""
    return ModelOut.of(acting.ws.connections.model(model_id))


@router.get("/models/{model_id}/preview", response_model=PreviewOut, tags=["models"])
def preview_model(
    model_id: str,
    acting: Viewer,
    limit: Annotated[int, Query(ge=1, le=PREVIEW_LIMIT, description="How many rows.")] = 20,
) -> PreviewOut:
    """The model's first rows, read from its source now."""
    found = acting.ws.connections.preview(model_id, limit)
    return PreviewOut(columns=found.columns, rows=found.rows)


@router.get("/destinations", response_model=list[ConnectionOut], tags=["destinations"])
def list_destinations(acting: Viewer) -> list[ConnectionOut]:
    """The workspace's destinations, by name."""
    return [ConnectionOut.of(c) for c in acting.ws.connections.destinations()]


@router.get("/destinations/{destination_id}", response_model=ConnectionOut, tags=["destinations"])
def get_destination(destination_id: str, acting: Viewer) -> ConnectionOut:
    """One destination, secrets masked."""
    return ConnectionOut.of(acting.ws.connections.destination(destination_id))


@router.post("/destinations/{destination_id}/check", response_model=CheckOut, tags=["destinations"])
def check_destination(destination_id: str, acting: Operator) -> CheckOut:
    """Connect to the destination as configured (operator)."""
    problem = acting.ws.connections.check("destination", destination_id)
    return CheckOut(ok=problem is None, problem=problem)
