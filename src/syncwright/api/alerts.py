"""Alert channels and rules (admins configure, members read, secrets masked), and the
alerts they raised: each incident with its notices and how their delivery went."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from syncwright.api.deps import Admin, Viewer, created
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import (
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    page_by_name,
)
from syncwright.domain.alerts import ChannelType, Condition, DeliveryStatus, Event, Incident
from syncwright.services.alerts import ChannelDoc, ChannelView, RuleDoc, RuleView

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", responses=RESPONSES)

Name = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_. -]+$")


class ChannelOut(BaseModel):
    """A channel: its type and settings, secrets masked."""

    id: str
    name: str
    type: ChannelType
    config: dict[str, Any]

    @classmethod
    def of(cls, view: ChannelView) -> ChannelOut:
        return cls(id=view.id, name=view.name, type=view.type, config=view.config)


class ChannelIn(ChannelDoc):
    """A new channel: its name, ``type`` and settings."""

    name: str = Name


class TestOut(BaseModel):
    """The outcome of a test notice: ``problem`` says why the channel did not take it."""

    ok: bool
    problem: str | None


class RuleOut(BaseModel):
    """A rule: its condition and thresholds (durations in seconds), the sync it watches
    (null: every sync of the workspace) and the channels it notifies."""

    id: str
    name: str
    condition: Condition
    sync_id: str | None
    sync: str | None
    thresholds: dict[str, float | int]
    channel_ids: list[str]
    channels: list[str]
    enabled: bool

    @classmethod
    def of(cls, view: RuleView) -> RuleOut:
        rule = view.rule
        return cls(
            id=rule.id,
            name=rule.name,
            condition=rule.condition,
            sync_id=rule.sync_id,
            sync=view.sync_name,
            thresholds=rule.thresholds.as_dict(),
            channel_ids=list(rule.channel_ids),
            channels=list(view.channel_names),
            enabled=rule.enabled,
        )


class RuleIn(RuleDoc):
    """A new rule: its name, condition and settings."""

    name: str = Name


class DeliveryOut(BaseModel):
    """One notice to one channel: ``delivered``, ``pending`` (being tried) or
    ``undelivered`` (every attempt failed; ``last_error`` is the channel's last answer)."""

    channel_id: str
    channel: str
    event: Event
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AlertOut(BaseModel):
    """An incident: while ``closed_at`` is null its rule's condition holds for the sync."""

    id: str
    rule_id: str
    rule: str
    condition: Condition
    sync_id: str
    sync: str
    run_id: str | None
    summary: str
    opened_at: datetime
    closed_at: datetime | None
    resolution: str | None
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, found: Incident) -> AlertOut:
        return cls(
            id=found.id,
            rule_id=found.rule_id,
            rule=found.rule_name,
            condition=found.condition,
            sync_id=found.sync_id,
            sync=found.sync_name,
            run_id=found.run_id,
            summary=found.summary,
            opened_at=found.opened_at,
            closed_at=found.closed_at,
            resolution=found.resolution,
            deliveries=[
                DeliveryOut(
                    channel_id=d.channel_id,
                    channel=d.channel_name,
                    event=d.event,
                    status=d.status,
                    attempts=d.attempts,
                    last_error=d.last_error,
                    created_at=d.created_at,
                    delivered_at=d.delivered_at,
                )
                for d in found.deliveries
            ],
        )


# -- channels ----------------------------------------------------------------------------------
@router.get("/alert-channels", response_model=Page[ChannelOut], tags=["alerts"])
def list_channels(acting: Viewer, limit: Limit = 100, cursor: Cursor = None) -> Page[ChannelOut]:
    """The workspace's alert channels, by name (secrets masked)."""
    found = acting.ws.alerts.channels()
    page, more = page_by_name(found, lambda c: (c.name, c.id), limit, cursor)
    return Page(items=[ChannelOut.of(c) for c in page], next_cursor=more)


@router.post("/alert-channels", response_model=ChannelOut, status_code=201, tags=["alerts"])
def create_channel(body: ChannelIn, acting: Admin, response: Response) -> ChannelOut:
    """Create a channel (admin): ``webhook`` (``url``, ``secret``), ``slack`` (``url``) or
    ``email`` (``to``); 409 when the name is taken, 422 names a missing or wrong setting."""
    doc = ChannelDoc.model_validate(body.model_dump(exclude={"name"}))
    new_id = acting.ws.alerts.create_channel(body.name, doc, user_id=acting.user_id)
    created(acting, response, "alert-channels", new_id)
    return ChannelOut.of(acting.ws.alerts.channel(new_id))


@router.get("/alert-channels/{channel_id}", response_model=ChannelOut, tags=["alerts"])
def get_channel(channel_id: str, acting: Viewer) -> ChannelOut:
    """One channel, secrets masked."""
    return ChannelOut.of(acting.ws.alerts.channel(channel_id))


@router.put("/alert-channels/{channel_id}", response_model=ChannelOut, tags=["alerts"])
def replace_channel(channel_id: str, body: ChannelDoc, acting: Admin) -> ChannelOut:
    """Replace a channel's type and settings (admin); a secret left out keeps its value."""
    acting.ws.alerts.replace_channel(channel_id, body, user_id=acting.user_id)
    return ChannelOut.of(acting.ws.alerts.channel(channel_id))


@router.delete("/alert-channels/{channel_id}", status_code=204, tags=["alerts"])
def delete_channel(channel_id: str, acting: Admin) -> None:
    """Delete a channel no rule notifies (admin); 409 names the rules that do."""
    acting.ws.alerts.delete_channel(channel_id, user_id=acting.user_id)


@router.post("/alert-channels/{channel_id}/test", response_model=TestOut, tags=["alerts"])
def test_channel(channel_id: str, acting: Admin) -> TestOut:
    """Send a test notice through the channel now (admin) and say how it went."""
    problem = acting.ws.alerts.test_channel(channel_id, user_id=acting.user_id)
    return TestOut(ok=problem is None, problem=problem)


# -- rules -------------------------------------------------------------------------------------
@router.get("/alert-rules", response_model=Page[RuleOut], tags=["alerts"])
def list_rules(acting: Viewer, limit: Limit = 100, cursor: Cursor = None) -> Page[RuleOut]:
    """The workspace's alert rules, by name."""
    found = acting.ws.alerts.rules()
    page, more = page_by_name(found, lambda r: (r.rule.name, r.rule.id), limit, cursor)
    return Page(items=[RuleOut.of(r) for r in page], next_cursor=more)


@router.post("/alert-rules", response_model=RuleOut, status_code=201, tags=["alerts"])
def create_rule(body: RuleIn, acting: Admin, response: Response) -> RuleOut:
    """Create a rule (admin); 409 when the name is taken, 422 names a missing or wrong
    setting, an unknown sync or channel."""
    doc = RuleDoc.model_validate(body.model_dump(exclude={"name"}))
    new_id = acting.ws.alerts.create_rule(body.name, doc, user_id=acting.user_id)
    created(acting, response, "alert-rules", new_id)
    return RuleOut.of(acting.ws.alerts.rule(new_id))


@router.get("/alert-rules/{rule_id}", response_model=RuleOut, tags=["alerts"])
def get_rule(rule_id: str, acting: Viewer) -> RuleOut:
    """One rule."""
    return RuleOut.of(acting.ws.alerts.rule(rule_id))


@router.put("/alert-rules/{rule_id}", response_model=RuleOut, tags=["alerts"])
def replace_rule(rule_id: str, body: RuleDoc, acting: Admin) -> RuleOut:
    """Replace a rule's condition, settings, sync and channels (admin)."""
    acting.ws.alerts.replace_rule(rule_id, body, user_id=acting.user_id)
    return RuleOut.of(acting.ws.alerts.rule(rule_id))


@router.delete("/alert-rules/{rule_id}", status_code=204, tags=["alerts"])
def delete_rule(rule_id: str, acting: Admin) -> None:
    """Delete a rule (admin); its alerts stay in the history, open ones close quietly."""
    acting.ws.alerts.delete_rule(rule_id, user_id=acting.user_id)


# -- history -----------------------------------------------------------------------------------
@router.get("/alerts", response_model=Page[AlertOut], tags=["alerts"])
def list_alerts(
    acting: Viewer,
    state: Annotated[
        Literal["open", "closed"] | None, Query(description="Only open or only closed ones.")
    ] = None,
    sync_id: Annotated[str | None, Query(description="Only this sync's.")] = None,
    rule_id: Annotated[str | None, Query(description="Only this rule's.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AlertOut]:
    """The alert history, newest first, with each notice's delivery."""
    after = None
    if cursor:
        opened, last_id = decode_cursor(cursor, 2)
        after = (datetime.fromisoformat(opened), str(last_id))
    found = acting.ws.alerts.incidents(
        state=state, sync_id=sync_id, rule_id=rule_id, after=after, limit=limit + 1
    )
    page = found[:limit]
    more = encode_cursor(page[-1].opened_at, page[-1].id) if len(found) > limit else None
    return Page(items=[AlertOut.of(i) for i in page], next_cursor=more)


@router.get("/alerts/{alert_id}", response_model=AlertOut, tags=["alerts"])
def get_alert(alert_id: str, acting: Viewer) -> AlertOut:
    """One alert with its notices."""
    return AlertOut.of(acting.ws.alerts.incident(alert_id))
