"""The alerts page: open alerts and the history, the rules and the channels; admins add,
turn on or off, test and delete them. An alert's page shows its notices."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from syncwright.api.problems import field_name
from syncwright.domain.alerts import ChannelType, Condition, Thresholds
from syncwright.domain.errors import ConfigError
from syncwright.services.alerts import ChannelDoc, RuleDoc
from syncwright.web.format import duration
from syncwright.web.session import Admin, PageRoute, Reader, done, templates
from syncwright.web.session import Form as CheckedForm

router = APIRouter(
    prefix="/w/{workspace_id}/alerts", route_class=PageRoute, include_in_schema=False
)

Doc = TypeVar("Doc", bound=BaseModel)

#: What each condition's form field means, for the page.
CONDITIONS = {
    Condition.RUN_FAILED: "the last run failed",
    Condition.RUN_INCOMPLETE: "the last run ended incomplete",
    Condition.FAILED_ENTRIES: "failed entries above a count or a share",
    Condition.FRESHNESS: "no successful run for a duration",
    Condition.DURATION: "a run lasts longer than a duration",
    Condition.VOLUME: "rows read deviate from the recent norm",
}


#: What the threshold field means for each condition that takes one.
THRESHOLDS = {
    Condition.FAILED_ENTRIES.value: "a count (5) or a share of the run's changes (10%)",
    Condition.FRESHNESS.value: "a duration without a successful run (6h, 30m)",
    Condition.DURATION.value: "the longest a run may last (2h, 45m)",
    Condition.VOLUME.value: "the largest deviation of rows read from the recent norm (50%)",
}


def rule_words(condition: str, thresholds: Thresholds) -> str:
    """A rule's condition as a sentence: "more than 5 failed entries"."""
    t = thresholds
    parts: list[str] = []
    match condition:
        case Condition.RUN_FAILED:
            return "the last run failed"
        case Condition.RUN_INCOMPLETE:
            return "the last run ended incomplete"
        case Condition.FAILED_ENTRIES:
            if t.failed_above is not None:
                parts.append(
                    f"more than {t.failed_above} failed entr{'y' if t.failed_above == 1 else 'ies'}"
                )
            if t.failed_share_above is not None:
                parts.append(f"more than {t.failed_share_above * 100:g}% of the changes failed")
            return " or ".join(parts) or "failed entries"
        case Condition.FRESHNESS:
            return f"no successful run for {duration(t.max_age)}"
        case Condition.DURATION:
            return f"a run lasts longer than {duration(t.max_duration)}"
        case Condition.VOLUME:
            share = f"{(t.deviation or 0) * 100:g}%"
            return f"rows read differ by more than {share} from the last {t.lookback} runs"
    return condition.replace("_", " ")


templates.env.globals["rule_words"] = rule_words


def _doc(kind: type[Doc], values: dict[str, Any]) -> Doc:
    """A form's values as a document; a wrong one is refused naming its field."""
    try:
        return kind.model_validate({k: v for k, v in values.items() if v not in ("", None)})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], field=field_name(tuple(first["loc"]))) from None


@router.get("")
def alerts_page(viewer: Reader, state: str = "") -> Response:
    service = viewer.services.alerts
    return viewer.render(
        "alerts.html",
        incidents=service.incidents(state=state or None, limit=200),
        rules=service.rules(),
        channels=service.channels(),
        syncs=viewer.services.syncs.list(),
        conditions=CONDITIONS,
        thresholds=THRESHOLDS,
        channel_types=[t.value for t in ChannelType],
        state=state,
    )


@router.get("/{alert_id}")
def alert_page(alert_id: str, viewer: Reader) -> Response:
    return viewer.render("alert.html", incident=viewer.services.alerts.incident(alert_id))


@router.post("/channels", dependencies=[CheckedForm])
def create_channel(
    viewer: Admin,
    name: Annotated[str, Form()],
    type: Annotated[str, Form()],
    url: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    to: Annotated[str, Form()] = "",
) -> Response:
    addresses = [a.strip() for a in to.replace(";", ",").split(",") if a.strip()]
    doc = _doc(ChannelDoc, {"type": type, "url": url, "secret": secret, "to": addresses or None})
    viewer.services.alerts.create_channel(name.strip(), doc, user_id=viewer.user.id)
    return done(f"{viewer.base}/alerts", f"Channel {name.strip()} added.")


@router.post("/channels/{channel_id}/test", dependencies=[CheckedForm])
def test_channel(channel_id: str, viewer: Admin) -> Response:
    service = viewer.services.alerts
    name = service.channel(channel_id).name
    problem = service.test_channel(channel_id, user_id=viewer.user.id)
    message = (
        f"A test notice went to {name}."
        if problem is None
        else f"{name} did not take the test notice: {problem}"
    )
    return done(f"{viewer.base}/alerts", message)


@router.post("/channels/{channel_id}/delete", dependencies=[CheckedForm])
def delete_channel(channel_id: str, viewer: Admin) -> Response:
    name = viewer.services.alerts.channel(channel_id).name
    viewer.services.alerts.delete_channel(channel_id, user_id=viewer.user.id)
    return done(f"{viewer.base}/alerts", f"Channel {name} deleted.")


@router.post("/rules", dependencies=[CheckedForm])
def create_rule(
    viewer: Admin,
    name: Annotated[str, Form()],
    condition: Annotated[str, Form()],
    channels: Annotated[list[str], Form()],
    sync: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "",
) -> Response:
    """One form for every condition: ``threshold`` is the setting the condition needs (a
    count or a share such as 5%, a duration such as 6h, a deviation such as 50%)."""
    values: dict[str, Any] = {"condition": condition, "sync": sync, "channels": channels}
    values.update(_threshold(condition, threshold.strip()))
    doc = _doc(RuleDoc, values)
    viewer.services.alerts.create_rule(name.strip(), doc, user_id=viewer.user.id)
    return done(f"{viewer.base}/alerts", f"Rule {name.strip()} added.")


def _threshold(condition: str, text: str) -> dict[str, Any]:
    share = text.endswith("%")
    number = text.rstrip("%").strip()
    match condition:
        case Condition.FAILED_ENTRIES:
            if not share:
                return {"failed_above": number}
            return {"failed_share_above": _share(number, "failed_share_above")}
        case Condition.FRESHNESS:
            return {"max_age": text}
        case Condition.DURATION:
            return {"max_duration": text}
        case Condition.VOLUME:
            return {"deviation": _share(number, "deviation") if share else number}
    if text:
        raise ConfigError(f"{condition} takes no threshold", field="threshold")
    return {}


def _share(number: str, field: str) -> float:
    try:
        return float(number) / 100
    except ValueError:
        raise ConfigError(f"not a percentage: {number!r}", field=field) from None


@router.post("/rules/{rule_id}/enabled", dependencies=[CheckedForm])
def toggle_rule(rule_id: str, viewer: Admin, enabled: Annotated[str, Form()]) -> Response:
    on = enabled == "on"
    name = viewer.services.alerts.set_rule_enabled(rule_id, on, user_id=viewer.user.id)
    return done(f"{viewer.base}/alerts", f"Rule {name} is {'on' if on else 'off'}.")


@router.post("/rules/{rule_id}/delete", dependencies=[CheckedForm])
def delete_rule(rule_id: str, viewer: Admin) -> Response:
    name = viewer.services.alerts.rule(rule_id).rule.name
    viewer.services.alerts.delete_rule(rule_id, user_id=viewer.user.id)
    return done(f"{viewer.base}/alerts", f"Rule {name} deleted.")
