"""The HTTP / webhook destination against a real HTTP server on loopback, through real runs."""

from __future__ import annotations

import threading

import pytest

from syncwright.connectors.http.destination import (
    HttpDestination,
    HttpDestinationConfig,
    RateLimiter,
)
from syncwright.connectors.http.template import names, render, render_url
from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import EntryStatus, Operation, RunStatus, WriteMode
from syncwright.sdk.testing import sample_batch
from tests.connectors.conftest import apply_sync, by_reference, catalogue_model, sql_source
from tests.support.catalogue import run_sync
from tests.support.http_api import Answer
from tests.support.rest_collection import RestCollection


def skus(request) -> list[str]:
    return [item["fields"]["sku"] for item in request.body["items"]]


def configure(app, name, shop, api, tmp_path, **destination):
    return apply_sync(
        app,
        name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination={"type": "http", "url": f"{api.url}/products", "batch_size": 5, **destination},
        base_dir=tmp_path,
    )


def test_batches_with_auth_and_per_item_results(app, name, shop, api, tmp_path):
    def answer(request):
        return Answer(
            body={
                "results": [
                    {"error": f"{sku} is discontinued"} if sku == "SKU-3" else {"id": f"p-{sku}"}
                    for sku in skus(request)
                ]
            }
        )

    api.handler = answer
    configure(
        app,
        name,
        shop,
        api,
        tmp_path,
        auth={"type": "bearer", "token": "tok-123"},
        headers={"X-Shop": "main"},
        results_path="results",
    )
    run = run_sync(app, name)

    assert run.status is RunStatus.SUCCEEDED
    assert len(api.requests) == 4  # 20 items, 5 per request
    assert {r.headers["authorization"] for r in api.requests} == {"Bearer tok-123"}
    assert {r.headers["x-shop"] for r in api.requests} == {"main"}
    entries = by_reference(app, run)
    assert entries["SKU-3"].status is EntryStatus.FAILED
    assert entries["SKU-3"].error == "SKU-3 is discontinued"
    assert entries["SKU-3"].attempts == 1  # a rejected item is not worth retrying
    assert entries["SKU-4"].status is EntryStatus.OK
    assert entries["SKU-4"].endpoint_id == "p-SKU-4"
    assert run.counters.ok == 19 and run.counters.failed == 1


def test_item_template_and_body_template(app, name, shop, api, tmp_path):
    configure(
        app,
        name,
        shop,
        api,
        tmp_path,
        batch_size=20,
        item_template={"sku": "{{ sku }}", "title": "Product {{ name }}", "cost": "{{ price }}"},
        body_template={"shop": "main", "products": "{{ items }}"},
    )
    run = run_sync(app, name)

    assert run.status is RunStatus.SUCCEEDED
    (request,) = api.requests
    assert request.body["shop"] == "main"
    first = sorted(request.body["products"], key=lambda p: p["cost"])[0]
    assert first == {"sku": "SKU-1", "title": "Product item 1", "cost": 1.0}


def test_429_with_retry_after_is_honoured_then_delivered(app, name, shop, api, tmp_path):
    seen = {"count": 0}

    def answer(request):
        seen["count"] += 1
        if seen["count"] == 1:
            return Answer(status=429, body={"error": "slow down"}, headers={"Retry-After": "0"})
        return Answer(status=200)

    api.handler = answer
    configure(app, name, shop, api, tmp_path, batch_size=20)
    run = run_sync(app, name)

    assert run.status is RunStatus.SUCCEEDED
    assert len(api.requests) == 2
    assert api.requests[0].body == api.requests[1].body  # the same items sent again
    entries = by_reference(app, run)
    assert {e.status for e in entries.values()} == {EntryStatus.OK}
    assert {e.attempts for e in entries.values()} == {2}


def test_server_errors_retried_per_policy_then_failed_then_sent_next_run(
    app, name, shop, api, tmp_path
):
    api.handler = lambda request: Answer(status=503, body={"message": "maintenance"})
    configure(app, name, shop, api, tmp_path, batch_size=20)
    run = run_sync(app, name)

    assert run.status is RunStatus.FAILED
    assert len(api.requests) == 4  # the first attempt and 3 retries
    entry = by_reference(app, run)["SKU-1"]
    assert entry.status is EntryStatus.FAILED
    assert entry.attempts == 4
    assert entry.error == "HTTP 503 Service Unavailable: maintenance (gave up after 4 attempts)"

    api.handler = lambda request: Answer(status=200)
    again = run_sync(app, name)
    assert again.status is RunStatus.SUCCEEDED
    assert again.counters.ok == 20


def test_timeouts_are_retried(app, name, shop, api, tmp_path):
    retried = threading.Event()

    def answer(request):
        if len(api.requests) == 1:
            retried.wait(60)  # unanswered until the client gives up on it and tries again
        else:
            retried.set()
        return Answer()

    api.handler = answer
    # The retry is answered at once: well within the timeout, however slow the machine.
    configure(app, name, shop, api, tmp_path, batch_size=20, timeout=2)
    run = run_sync(app, name)

    assert run.status is RunStatus.SUCCEEDED
    assert retried.is_set() and len(api.requests) == 2
    assert {e.attempts for e in by_reference(app, run).values()} == {2}


def test_a_batch_rejected_whole_is_split_to_find_the_bad_items(app, name, shop, api, tmp_path):
    def answer(request):
        bad = [s for s in skus(request) if s in ("SKU-7", "SKU-12")]
        if bad:
            return Answer(status=422, body={"error": f"invalid product {bad[0]}"})
        return Answer(status=201)

    api.handler = answer
    configure(app, name, shop, api, tmp_path, batch_size=20)
    run = run_sync(app, name)

    entries = by_reference(app, run)
    failed = {ref: e.error for ref, e in entries.items() if e.status is EntryStatus.FAILED}
    assert failed == {
        "SKU-7": "HTTP 422 Unprocessable Entity: invalid product SKU-7",
        "SKU-12": "HTTP 422 Unprocessable Entity: invalid product SKU-12",
    }
    assert run.counters.ok == 18
    accepted = [r for r in api.requests if not {"SKU-7", "SKU-12"} & set(skus(r))]
    delivered = sorted(s for r in accepted for s in skus(r))
    assert delivered == sorted(f"SKU-{i}" for i in range(1, 21) if i not in (7, 12))


def test_malformed_answer_fails_items_with_the_reason(app, name, shop, api, tmp_path):
    api.handler = lambda request: Answer(raw=b"<html>oops</html>")
    configure(app, name, shop, api, tmp_path, batch_size=20, results_path="results")
    run = run_sync(app, name)

    assert run.status is RunStatus.FAILED
    entry = by_reference(app, run)["SKU-1"]
    assert entry.error.startswith("HTTP 200: the answer is not JSON")
    assert len(api.requests) == 1  # the items may have arrived: not retried blindly


def test_one_item_per_request_with_url_template_and_removals(app, name, shop, api, tmp_path):
    api.handler = lambda request: Answer(body={"id": "remote-" + request.path.rsplit("/", 1)[1]})
    apply_sync(
        app,
        name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination={
            "type": "http",
            "url": f"{api.url}/products/{{{{ reference }}}}",
            "method": "PUT",
            "remove_method": "DELETE",
            "batch_size": 1,
            "item_template": {"name": "{{ name }}", "price": "{{ price }}"},
            "concurrency": 2,
        },
        sync={"mode": "mirror"},
        base_dir=tmp_path,
    )
    first = run_sync(app, name)
    assert first.counters.ok == 20
    assert by_reference(app, first)["SKU-5"].endpoint_id == "remote-SKU-5"
    put = next(r for r in api.requests if r.path == "/products/SKU-5")
    assert put.method == "PUT" and put.body == {"name": "item 5", "price": 5.0}
    assert api.most_in_flight <= 2

    shop.remove(5)
    api.requests.clear()
    second = run_sync(app, name)
    assert [(r.method, r.path) for r in api.requests] == [("DELETE", "/products/SKU-5")]
    entry = by_reference(app, second)["SKU-5"]
    assert entry.operation is Operation.REMOVE and entry.status is EntryStatus.OK


def rest_destination(api, **extra):
    """One destination mirroring a REST collection: POST to create, PUT and DELETE the item."""
    return {
        "type": "http",
        "url": f"{api.url}/items",
        "item_template": {"id": "{{ id }}", "sku": "{{ sku }}", "price": "{{ price }}"},
        "add": {"method": "POST", "url": f"{api.url}/items"},
        "change": {"method": "PUT", "url": f"{api.url}/items/{{{{ key.id }}}}"},
        "remove": {"method": "DELETE", "url": f"{api.url}/items/{{{{ key.id }}}}"},
        **extra,
    }


def operations(app, run) -> dict[str, tuple]:
    return {
        ref: (e.operation, e.status, e.attempts, e.endpoint_id)
        for ref, e in by_reference(app, run).items()
    }


def test_one_destination_mirrors_a_rest_collection_first_load_included(
    app, name, shop, api, tmp_path
):
    collection = RestCollection()
    api.handler = collection
    apply_sync(
        app,
        name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination=rest_destination(api),
        sync={"mode": "mirror"},
        base_dir=tmp_path,
    )
    first = run_sync(app, name)

    assert first.status is RunStatus.SUCCEEDED and first.counters.ok == 20
    assert {(r.method, r.path) for r in api.requests} == {("POST", "/items")}
    assert sorted(r.body["id"] for r in api.requests) == list(range(1, 21))  # each once
    assert collection.items["7"] == {"id": 7, "sku": "SKU-7", "price": 7.0}
    assert operations(app, first)["SKU-7"] == (Operation.ADD, EntryStatus.OK, 1, "item-7")
    assert {op[:3] for op in operations(app, first).values()} == {
        (Operation.ADD, EntryStatus.OK, 1)
    }

    shop.put({"id": 3, "price": 99.0})
    shop.remove(5)
    api.requests.clear()
    second = run_sync(app, name)

    assert second.status is RunStatus.SUCCEEDED
    assert sorted((r.method, r.path) for r in api.requests) == [
        ("DELETE", "/items/5"),
        ("PUT", "/items/3"),
    ]
    put = next(r for r in api.requests if r.method == "PUT")
    assert put.body == {"id": 3, "sku": "SKU-3", "price": 99.0}
    delete = next(r for r in api.requests if r.method == "DELETE")
    assert delete.raw == b""  # a DELETE carries no body unless the remove says so
    assert "5" not in collection.items and collection.items["3"]["price"] == 99.0
    assert len(collection.items) == 19
    assert operations(app, second) == {
        "SKU-3": (Operation.CHANGE, EntryStatus.OK, 1, "item-3"),
        "SKU-5": (Operation.REMOVE, EntryStatus.OK, 1, None),
    }

    api.requests.clear()
    assert run_sync(app, name).counters.changes == 0
    assert api.requests == []


def test_a_rest_collection_that_drifted_is_mirrored_again(app, name, shop, api, tmp_path):
    collection = RestCollection()
    collection.items["2"] = {"id": 2, "sku": "SKU-2", "price": 0.5}  # there before the sync
    api.handler = collection
    apply_sync(
        app,
        name,
        source=sql_source(shop),
        model=catalogue_model(),
        destination=rest_destination(api),
        sync={"mode": "mirror"},
        base_dir=tmp_path,
    )
    first = run_sync(app, name)

    assert first.counters.ok == 20
    assert [(r.method, r.path) for r in api.requests if r.body["id"] == 2] == [
        ("POST", "/items"),  # 409: it exists
        ("PUT", "/items/2"),
    ]
    assert collection.items["2"]["price"] == 2.0
    assert operations(app, first)["SKU-2"] == (Operation.ADD, EntryStatus.OK, 1, "item-2")

    # Someone deletes items 4 and 6 at the API; the model changes 4 and drops 6.
    del collection.items["4"], collection.items["6"]
    shop.put({"id": 4, "price": 44.0})
    shop.remove(6)
    api.requests.clear()
    second = run_sync(app, name)

    assert sorted((r.method, r.path) for r in api.requests) == [
        ("DELETE", "/items/6"),  # 404: gone already, which is what a removal wants
        ("POST", "/items"),  # the change of 4, sent again as an addition
        ("PUT", "/items/4"),  # 404
    ]
    assert collection.items["4"] == {"id": 4, "sku": "SKU-4", "price": 44.0}
    assert "6" not in collection.items
    assert operations(app, second) == {
        "SKU-4": (Operation.CHANGE, EntryStatus.OK, 1, "item-4"),
        "SKU-6": (Operation.REMOVE, EntryStatus.OK, 1, None),
    }


def test_only_upsert_and_mirror_syncs_turn_a_refused_operation_into_the_other(api):
    collection = RestCollection()
    collection.items["1"] = {"id": 1}
    api.handler = collection
    config = rest_destination(api)
    config.pop("type")
    destination = HttpDestination(config)
    try:
        [inserted] = destination.write(
            sample_batch([{"id": 1, "sku": "SKU-1"}], write_mode=WriteMode.INSERT)
        )
        [updated] = destination.write(
            sample_batch(
                [{"id": 2, "sku": "SKU-2"}], operation=Operation.CHANGE, write_mode=WriteMode.UPDATE
            )
        )
    finally:
        destination.close()
    assert (inserted.status, inserted.error) == (
        EntryStatus.FAILED,
        "HTTP 409 Conflict: item 1 exists",
    )
    assert (updated.status, updated.error) == (EntryStatus.FAILED, "HTTP 404 Not Found: no item 2")
    assert [(r.method, r.path) for r in api.requests] == [("POST", "/items"), ("PUT", "/items/2")]


def test_each_item_of_a_multi_status_answer_is_read_like_an_answer(api):
    statuses = {
        "SKU-1": {"status": 201, "id": "p-1"},
        "SKU-2": {"status": 503, "error": "busy", "retry_after": 7},
        "SKU-3": {"status": "502", "error": {"code": "upstream"}},
        "SKU-4": {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"},
        "SKU-5": {"status": 404, "error": "no such product"},
        "SKU-6": {"status": 422},
        "SKU-7": {"error": "discontinued"},
        "SKU-8": {"status": "ok", "id": "p-8"},
    }
    api.handler = lambda request: Answer(
        status=207,
        body={"results": [statuses[item["fields"]["sku"]] for item in request.body["items"]]},
        headers={"Retry-After": "3"},
    )
    destination = HttpDestination({"url": f"{api.url}/products", "results_path": "results"})
    try:
        rows = [{"id": i, "sku": f"SKU-{i}"} for i in range(1, 9)]
        results = destination.write(sample_batch(rows))
    finally:
        destination.close()
    assert [(r.status, r.error, r.retryable, r.retry_after, r.endpoint_id) for r in results] == [
        (EntryStatus.OK, None, False, None, "p-1"),
        (EntryStatus.FAILED, "HTTP 503 Service Unavailable: busy", True, 7.0, None),
        (EntryStatus.FAILED, 'HTTP 502 Bad Gateway: {"code": "upstream"}', True, 3.0, None),
        (EntryStatus.FAILED, "HTTP 429 Too Many Requests", True, 0.0, None),  # a past date
        (EntryStatus.FAILED, "HTTP 404 Not Found: no such product", False, None, None),
        (EntryStatus.FAILED, "HTTP 422 Unprocessable Entity", False, None, None),
        (EntryStatus.FAILED, "discontinued", False, None, None),
        (EntryStatus.OK, None, False, None, "p-8"),  # not an HTTP status: not read as one
    ]


def test_a_multi_status_answer_without_results_path_fails_its_items(api):
    api.handler = lambda request: Answer(status=207, body={"results": []})
    destination = HttpDestination({"url": f"{api.url}/products"})
    try:
        results = destination.write(sample_batch())
    finally:
        destination.close()
    assert {(r.status, r.error, r.retryable) for r in results} == {
        (
            EntryStatus.FAILED,
            "HTTP 207 Multi-Status: the answer has a result per item; set results_path",
            False,
        )
    }


def test_rate_limiter_spaces_request_starts():
    now = {"t": 100.0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now["t"] += seconds

    limiter = RateLimiter(4.0, clock=lambda: now["t"], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert RateLimiter(None).interval == 0.0


def test_templates_reach_into_objects_and_encode_url_values():
    values = {"id": 7, "key": {"id": "a/b c"}, "fields": {"price": 1.5}, "a.b": "flat"}
    assert render({"p": "{{ fields.price }}", "k": "{{ key }}"}, values) == {
        "p": 1.5,
        "k": {"id": "a/b c"},
    }
    assert render("{{ a.b }} {{ key.missing }}!", values) == "flat !"
    assert render_url("http://x/items/{{ key.id }}?n={{ id }}", values) == (
        "http://x/items/a%2Fb%20c?n=7"
    )
    assert names("http://x/{{ key.id }}/{{ sku }}") == {"key.id", "sku"}


def test_a_url_naming_fields_needs_one_item_per_request():
    item_url = {"url": "http://x/items/{{ key.id }}", "add": {"url": "http://x/items"}}
    every = {**item_url, "change": {"method": "PUT"}, "remove": {"method": "DELETE"}}
    config = HttpDestinationConfig.parse(every)
    assert (config.method_for(Operation.ADD), config.method_for(Operation.REMOVE)) == (
        "POST",
        "DELETE",
    )
    with pytest.raises(ConfigError) as refused:  # removals would go in batches to that url
        HttpDestinationConfig.parse({**item_url, "change": {"method": "PUT"}})
    assert refused.value.field == "config.batch_size"
