"""Retries inside runs and by the next run, links between attempts, error groups and their
resync, against a real HTTP destination that fails on purpose."""

from __future__ import annotations

from collections import Counter

from syncwright.domain.statuses import EntryStatus, RunMode, RunStatus, Trigger
from tests.connectors.conftest import apply_sync, by_reference, catalogue_model, sql_source
from tests.support.catalogue import run_sync
from tests.support.http_api import Answer


def skus(request) -> list[str]:
    return [item["fields"]["sku"] for item in request.body["items"]]


def sku(request) -> str:
    """The item of a one-item request."""
    return request.body["fields"]["sku"]


def configure(app, name, shop, api, tmp_path, sync=None, one_per_request=False):
    destination = {"type": "http", "url": f"{api.url}/products", "batch_size": 20}
    if one_per_request:
        destination["batch_size"] = 1
    else:
        destination["results_path"] = "results"
    return apply_sync(
        app,
        name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination=destination,
        sync=sync,
        base_dir=tmp_path,
    )


def test_an_item_failing_three_times_then_accepted_ends_ok_after_four_attempts(
    app, name, shop, api, tmp_path
):
    tries = Counter()

    def answer(request):
        tries[sku(request)] += 1
        if sku(request) == "SKU-7" and tries["SKU-7"] <= 3:
            return Answer(status=503, body={"message": "warehouse busy"})
        return Answer(body={"id": sku(request).lower()})

    api.handler = answer
    configure(app, name, shop, api, tmp_path, one_per_request=True)
    run = run_sync(app, name)

    entry = by_reference(app, run)["SKU-7"]
    assert (entry.status, entry.attempts, entry.error) == (EntryStatus.OK, 4, None)
    assert entry.endpoint_id == "sku-7"
    assert tries["SKU-7"] == 4
    assert tries["SKU-8"] == 1  # items accepted the first time are not sent again
    assert run.status is RunStatus.SUCCEEDED and run.counters.ok == 20


def test_one_item_of_a_batch_answered_503_in_a_207_is_retried_alone_then_ok(
    app, name, shop, api, tmp_path
):
    tries = Counter()

    def result(sku: str) -> dict:
        tries[sku] += 1
        if sku == "SKU-7" and tries[sku] == 1:
            return {"status": 503, "error": "warehouse busy"}
        if sku == "SKU-3":
            return {"status": 422, "error": "price below the floor"}
        return {"status": 201, "id": sku.lower()}

    api.handler = lambda request: Answer(
        status=207,
        body={"results": [result(s) for s in skus(request)]},
        headers={"Retry-After": "0"},
    )
    configure(app, name, shop, api, tmp_path)
    run = run_sync(app, name)

    assert [len(skus(r)) for r in api.requests] == [20, 1]
    assert skus(api.requests[1]) == ["SKU-7"]  # only the item to retry is sent again
    entries = by_reference(app, run)
    retried = entries["SKU-7"]
    assert (retried.status, retried.attempts, retried.error) == (EntryStatus.OK, 2, None)
    assert retried.endpoint_id == "sku-7"
    refused = entries["SKU-3"]
    assert (refused.status, refused.attempts) == (EntryStatus.FAILED, 1)
    assert refused.error == "HTTP 422 Unprocessable Entity: price below the floor"
    assert (entries["SKU-8"].status, entries["SKU-8"].attempts) == (EntryStatus.OK, 1)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counters.ok, run.counters.failed) == (19, 1)


def test_an_always_failing_item_gives_up_then_the_next_run_retries_it_linked(
    app, name, shop, api, tmp_path
):
    api.handler = lambda request: (
        Answer(status=502, body={"message": "upstream down"})
        if sku(request) == "SKU-3"
        else Answer()
    )
    configure(app, name, shop, api, tmp_path, one_per_request=True)
    first = run_sync(app, name)
    failed = by_reference(app, first)["SKU-3"]
    assert failed.status is EntryStatus.FAILED and failed.attempts == 4
    assert failed.error == "HTTP 502 Bad Gateway: upstream down (gave up after 4 attempts)"

    # Nothing changed in the source: the next run sends the failed item again, and only it.
    second = run_sync(app, name)
    [again] = app.report.entries(run_id=second.id)
    assert again.reference == "SKU-3" and again.retry_of == failed.id
    assert again.status is EntryStatus.FAILED and again.attempts == 4

    api.handler = lambda request: Answer()
    third = run_sync(app, name)
    [healed] = app.report.entries(run_id=third.id)
    assert healed.retry_of == again.id and healed.status is EntryStatus.OK
    assert run_sync(app, name).counters.changes == 0  # healed: nothing left to retry
    history = app.report.history("SKU-3", sync=name)
    assert [e.id for e in history][:3] == [healed.id, again.id, failed.id]
    assert {e.latest_status for e in history} == {EntryStatus.OK}


def test_retrying_failed_items_in_the_next_run_can_be_turned_off(app, name, shop, api, tmp_path):
    api.handler = lambda request: Answer(
        body={"results": [{"error": "refused"} if s == "SKU-3" else {} for s in skus(request)]}
    )
    configure(app, name, shop, api, tmp_path, sync={"retry": {"retries": 0, "next_run": False}})
    first = run_sync(app, name)
    assert first.counters.failed == 1
    second = run_sync(app, name)
    assert second.counters.changes == 0 and app.report.entries(run_id=second.id) == []
    # Off means "handled until it changes": a change sends it again, linked to the failure.
    shop.put({"id": 3, "price": 99.0})
    third = run_sync(app, name)
    [entry] = app.report.entries(run_id=third.id)
    assert entry.retry_of == by_reference(app, first)["SKU-3"].id


def test_error_groups_mask_particulars_and_one_group_is_resynced(app, name, shop, api, tmp_path):
    def reason(sku: str) -> str | None:
        number = int(sku.split("-")[1])
        if number % 5 == 0:
            return f"price {number}.50 for '{sku}' is below the floor of 100"
        if number % 3 == 0:
            return f"category id {1000 + number} unknown"
        return None

    api.handler = lambda request: Answer(
        body={"results": [{"error": reason(s)} if reason(s) else {} for s in skus(request)]}
    )
    configure(app, name, shop, api, tmp_path)
    first = run_sync(app, name)
    groups = {g.group: g for g in app.report.error_groups(run_id=first.id)}
    assert set(groups) == {
        "price <n>.<n> for '…' is below the floor of <n>",
        "category id <n> unknown",
    }
    assert groups["category id <n> unknown"].count == 5  # 3, 6, 9, 12, 18 (15 is a price)
    assert groups["price <n>.<n> for '…' is below the floor of <n>"].count == 4
    sample = groups["category id <n> unknown"].sample
    assert sample.status is EntryStatus.FAILED and sample.error.startswith("category id 10")

    # The categories got created upstream: resync that group, and only that group.
    api.handler = lambda request: Answer(body={"results": [{} for _ in skus(request)]})
    sent_before = len(api.requests)
    [resync] = app.runs.resync(
        app.report.filter(run_id=first.id, error_group="category id <n> unknown")
    )
    assert (resync.type, resync.trigger, resync.mode) == ("resync", Trigger.RESYNC, RunMode.RESYNC)
    done = app.runs.wait(resync.id, timeout=60, poll=0.05)
    entries = by_reference(app, done)
    assert set(entries) == {"SKU-3", "SKU-6", "SKU-9", "SKU-12", "SKU-18"}
    assert {e.status for e in entries.values()} == {EntryStatus.OK}
    first_entries = by_reference(app, first)
    assert all(e.retry_of == first_entries[ref].id for ref, e in entries.items())
    assert sorted(s for r in api.requests[sent_before:] for s in skus(r)) == sorted(entries)
