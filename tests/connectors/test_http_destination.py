"""The HTTP / webhook destination against a real HTTP server on loopback, through real runs."""

from __future__ import annotations

import threading

from syncwright.connectors.http.destination import RateLimiter
from syncwright.domain.statuses import EntryStatus, Operation, RunStatus
from tests.connectors.conftest import apply_sync, by_reference, catalogue_model, sql_source
from tests.support.catalogue import run_sync
from tests.support.http_api import Answer


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
