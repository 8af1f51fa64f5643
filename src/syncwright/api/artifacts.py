"""Files that runs published (feeds, uploads): a run's file, and a sync's constant "latest"
URL, served with their content type, length and ETag (a conditional GET answers 304)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel

from syncwright.api.deps import Viewer
from syncwright.api.problems import RESPONSES
from syncwright.domain.artifacts import Artifact
from syncwright.domain.errors import NotFound

router = APIRouter(
    prefix="/api/v1/workspaces/{workspace_id}", tags=["artifacts"], responses=RESPONSES
)
IfNoneMatch = Annotated[str | None, Header(description="An ETag seen before.")]


class ArtifactOut(BaseModel):
    """A published file: where it is, its size, checksum, rows and content type."""

    id: str
    run_id: str
    sync_id: str
    location: str
    latest: str | None
    size: int
    checksum: str
    rows: int
    content_type: str
    created_at: datetime

    @classmethod
    def of(cls, a: Artifact) -> ArtifactOut:
        return cls(**{name: getattr(a, name) for name in cls.model_fields})


def serve_file(artifact: Artifact, if_none_match: str | None) -> Response:
    etag = f'"{artifact.checksum}"'
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    path = Path(artifact.location)
    if not path.is_file():
        raise NotFound(f"the file is not on this server (it was published to {artifact.location})")
    return FileResponse(
        path,
        media_type=artifact.content_type,
        filename=path.name,
        headers={"ETag": etag, "Cache-Control": "no-cache"},
        content_disposition_type="inline",
    )


_FILE = {200: {"content": {"application/octet-stream": {}}, "description": "The file."}}


@router.get("/runs/{run_id}/artifact", response_model=ArtifactOut)
def run_artifact(run_id: str, acting: Viewer) -> ArtifactOut:
    """What the run published."""
    return ArtifactOut.of(acting.ws.syncs.run_artifact(run_id))


@router.get("/runs/{run_id}/artifact/content", response_class=Response, responses=_FILE)
def run_artifact_content(
    run_id: str, acting: Viewer, if_none_match: IfNoneMatch = None
) -> Response:
    """The file the run published, with its content type, length and ETag."""
    return serve_file(acting.ws.syncs.run_artifact(run_id), if_none_match)


@router.get("/syncs/{sync_id}/artifacts/latest", response_class=Response, responses=_FILE)
def latest_artifact(sync_id: str, acting: Viewer, if_none_match: IfNoneMatch = None) -> Response:
    """The sync's newest complete file, always at this URL (a feed's constant address)."""
    return serve_file(acting.ws.syncs.latest_artifact(sync_id), if_none_match)
