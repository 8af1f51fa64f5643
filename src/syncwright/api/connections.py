"""Sources, models (with a preview of their first rows) and destinations (with a connection
check) of a workspace. Connector secrets come back masked."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from syncwright.api.deps import Admin, Operator, Viewer, created
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import Cursor, Limit, Page, page_by_name
from syncwright.domain.sync import ModelSpec
from syncwright.services.config_file import ConnectionDoc, ModelDoc
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


def _by_name(found: Connection) -> tuple[str, str]:
    return found.spec.name, found.spec.id


@router.get("/sources", response_model=Page[ConnectionOut], tags=["sources"])
def list_sources(acting: Viewer, limit: Limit = 100, cursor: Cursor = None) -> Page[ConnectionOut]:
    """The workspace's sources, by name."""
    page, more = page_by_name(acting.ws.connections.sources(), _by_name, limit, cursor)
    return Page(items=[ConnectionOut.of(c) for c in page], next_cursor=more)


@router.get("/sources/{source_id}", response_model=ConnectionOut, tags=["sources"])
def get_source(source_id: str, acting: Viewer) -> ConnectionOut:
    """One source, secrets masked."""
    return ConnectionOut.of(acting.ws.connections.source(source_id))


@router.post("/sources/{source_id}/check", response_model=CheckOut, tags=["sources"])
def check_source(source_id: str, acting: Operator) -> CheckOut:
    """Connect to the source as configured (operator)."""
    problem = acting.ws.connections.check("source", source_id)
    return CheckOut(ok=problem is None, problem=problem)


@router.get("/models", response_model=Page[ModelOut], tags=["models"])
def list_models(acting: Viewer, limit: Limit = 100, cursor: Cursor = None) -> Page[ModelOut]:
    """The workspace's models, by name."""
    found = acting.ws.connections.models()
    page, more = page_by_name(found, lambda m: (m.name, m.id), limit, cursor)
    return Page(items=[ModelOut.of(m) for m in page], next_cursor=more)


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


@router.get("/destinations", response_model=Page[ConnectionOut], tags=["destinations"])
def list_destinations(
    acting: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> Page[ConnectionOut]:
    """The workspace's destinations, by name."""
    page, more = page_by_name(acting.ws.connections.destinations(), _by_name, limit, cursor)
    return Page(items=[ConnectionOut.of(c) for c in page], next_cursor=more)


@router.get("/destinations/{destination_id}", response_model=ConnectionOut, tags=["destinations"])
def get_destination(destination_id: str, acting: Viewer) -> ConnectionOut:
    """One destination, secrets masked."""
    return ConnectionOut.of(acting.ws.connections.destination(destination_id))


@router.post("/destinations/{destination_id}/check", response_model=CheckOut, tags=["destinations"])
def check_destination(destination_id: str, acting: Operator) -> CheckOut:
    """Connect to the destination as configured (operator)."""
    problem = acting.ws.connections.check("destination", destination_id)
    return CheckOut(ok=problem is None, problem=problem)


# -- changing them -----------------------------------------------------------------------------
Name = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.-]+$")
CheckFirst = Annotated[
    bool, Query(description="Connect before saving; an unreachable one is refused.")
]


class ConnectionIn(ConnectionDoc):
    """A new source or destination: its name, ``type`` and the connector's own settings,
    as in a configuration file."""

    name: str = Name


class ModelIn(ModelDoc):
    """A new model, as in a configuration file (``source`` is the source's name)."""

    name: str = Name


@router.post("/sources", response_model=ConnectionOut, status_code=201, tags=["sources"])
def create_source(
    body: ConnectionIn, acting: Admin, response: Response, check: CheckFirst = True
) -> ConnectionOut:
    """Create a source (admin); 409 when the name is taken."""
    doc = ConnectionDoc.model_validate(body.model_dump(exclude={"name"}))
    new_id = acting.ws.objects.create(
        "source", body.name, doc, user_id=acting.user_id, check_connections=check
    )
    created(acting, response, "sources", new_id)
    return ConnectionOut.of(acting.ws.connections.source(new_id))


@router.put("/sources/{source_id}", response_model=ConnectionOut, tags=["sources"])
def replace_source(
    source_id: str, body: ConnectionDoc, acting: Admin, check: CheckFirst = True
) -> ConnectionOut:
    """Replace a source's type and settings (admin); its models follow."""
    acting.ws.objects.replace(
        "source", source_id, body, user_id=acting.user_id, check_connections=check
    )
    return ConnectionOut.of(acting.ws.connections.source(source_id))


@router.delete("/sources/{source_id}", status_code=204, tags=["sources"])
def delete_source(source_id: str, acting: Admin) -> None:
    """Delete a source no model uses (admin); 409 names the models that do."""
    acting.ws.objects.delete("source", source_id, user_id=acting.user_id)


@router.post("/models", response_model=ModelOut, status_code=201, tags=["models"])
def create_model(body: ModelIn, acting: Admin, response: Response) -> ModelOut:
    """Create a model over a source (admin); 409 when the name is taken."""
    doc = ModelDoc.model_validate(body.model_dump(exclude={"name"}))
    new_id = acting.ws.objects.create("model", body.name, doc, user_id=acting.user_id)
    created(acting, response, "models", new_id)
    return ModelOut.of(acting.ws.connections.model(new_id))


@router.put("/models/{model_id}", response_model=ModelOut, tags=["models"])
def replace_model(model_id: str, body: ModelDoc, acting: Admin) -> ModelOut:
    """Replace a model's source, query and columns (admin)."""
    acting.ws.objects.replace("model", model_id, body, user_id=acting.user_id)
    return ModelOut.of(acting.ws.connections.model(model_id))


@router.delete("/models/{model_id}", status_code=204, tags=["models"])
def delete_model(model_id: str, acting: Admin) -> None:
    """Delete a model no sync uses (admin); 409 names the syncs that do."""
    acting.ws.objects.delete("model", model_id, user_id=acting.user_id)


@router.post("/destinations", response_model=ConnectionOut, status_code=201, tags=["destinations"])
def create_destination(
    body: ConnectionIn, acting: Admin, response: Response, check: CheckFirst = True
) -> ConnectionOut:
    """Create a destination (admin); 409 when the name is taken."""
    doc = ConnectionDoc.model_validate(body.model_dump(exclude={"name"}))
    new_id = acting.ws.objects.create(
        "destination", body.name, doc, user_id=acting.user_id, check_connections=check
    )
    created(acting, response, "destinations", new_id)
    return ConnectionOut.of(acting.ws.connections.destination(new_id))


@router.put("/destinations/{destination_id}", response_model=ConnectionOut, tags=["destinations"])
def replace_destination(
    destination_id: str, body: ConnectionDoc, acting: Admin, check: CheckFirst = True
) -> ConnectionOut:
    """Replace a destination's type and settings (admin)."""
    acting.ws.objects.replace(
        "destination", destination_id, body, user_id=acting.user_id, check_connections=check
    )
    return ConnectionOut.of(acting.ws.connections.destination(destination_id))


@router.delete("/destinations/{destination_id}", status_code=204, tags=["destinations"])
def delete_destination(destination_id: str, acting: Admin) -> None:
    """Delete a destination no sync uses (admin); 409 names the syncs that do."""
    acting.ws.objects.delete("destination", destination_id, user_id=acting.user_id)
