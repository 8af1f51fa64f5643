"""``/api/v1/hooks/{secret}``: the webhook trigger. Its secret is its credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from syncwright.api.deps import the_app
from syncwright.api.problems import Problem
from syncwright.api.schemas import RunOut
from syncwright.bootstrap.app import App

router = APIRouter(prefix="/api/v1/hooks", tags=["webhooks"])


@router.post(
    "/{secret}",
    response_model=RunOut,
    status_code=202,
    responses={404: {"model": Problem, "description": "Unknown or revoked secret"}},
)
def webhook(
    secret: Annotated[str, Path(description="The sync's webhook secret.")],
    sw: Annotated[App, Depends(the_app)],
    response: Response,
) -> RunOut:
    """Start a run of the sync whose webhook secret this is (``syncwright webhook SYNC``
    makes one). Needs no token: the secret is the credential."""
    run = sw.trigger_webhook(secret)
    response.headers["Location"] = f"/api/v1/workspaces/{run.workspace_id}/runs/{run.id}"
    return RunOut.of(run)
