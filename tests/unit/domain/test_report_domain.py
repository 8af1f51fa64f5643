"""Error groups, page cursors and the retention: pure rules of the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.domain.entry import Entry
from syncwright.domain.errors import ConfigError
from syncwright.domain.reasons import GROUP_LENGTH, error_group
from syncwright.domain.report import (
    SORTABLE,
    EntryFilter,
    ReportQuery,
    decode_cursor,
    encode_cursor,
)
from syncwright.domain.retention import Retention
from syncwright.domain.statuses import EntryStatus, Operation


@pytest.mark.parametrize(
    ("reason", "group"),
    [
        ("price 12.50 for 'SKU-3' is below 100", "price <n>.<n> for '…' is below <n>"),
        ('field "name" is missing', "field '…' is missing"),
        ("HTTP 422 Unprocessable: SKU-42 refused", "HTTP 422 Unprocessable: <n> refused"),
        ("price below floor for DEMO-SH-1", "price below floor for <n>"),
        (
            "answered 503 Service Unavailable after 3 tries",
            "answered 503 Service Unavailable after <n> tries",
        ),
        ("HTTP/1.1 404 for item 7", "HTTP/1.1 404 for item <n>"),
        ("Status: 409, order 5512 exists", "Status: 409, order <n> exists"),
        ("422 items refused", "<n> items refused"),
        ("qty 250 Units over the limit", "qty <n> Units over the limit"),
        ("status 404 for order 7", "status 404 for order <n>"),
        ("product 3f2a9c1e-1111-2222-3333-444455556666 not found", "product <id> not found"),
        ("id 0123456789abcdef0 unknown", "id <id> unknown"),
        ("mail ops@example.com bounced", "mail <email> bounced"),
        ("GET https://api.example.com/p/1?x=2 timed out", "GET <url> timed out"),
        ("NOT NULL constraint failed: products.name", "NOT NULL constraint failed: products.name"),
        ("  spaces\n  and   lines ", "spaces and lines"),
    ],
)
def test_error_groups_mask_the_particulars(reason, group):
    assert error_group(reason) == group


def test_alike_reasons_share_a_group_and_long_ones_are_cut():
    assert error_group("row 1: 'a' too long") == error_group("row 999: 'bcd' too long")
    assert error_group("HTTP 404") != error_group("HTTP 422")
    floor = "HTTP 422 Unprocessable Entity: price below floor for "
    assert error_group(floor + "DEMO-SH-1") == error_group(floor + "DEMO-JA-2")
    assert "422" in error_group(floor + "DEMO-SH-1")
    assert error_group(None) is None
    assert len(error_group("x" * 1000)) == GROUP_LENGTH


def _entry(**values):
    base = dict(
        id=7,
        run_id="r",
        sync_id="s",
        seq=0,
        item_key='{"id":1}',
        reference="SKU-1",
        system="shop",
        source_id="1",
        endpoint_id=None,
        operation=Operation.ADD,
        status=EntryStatus.OK,
        attempts=1,
        error=None,
        payload=None,
        created_at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        updated_at=datetime(2026, 11, 1, 12, 5, tzinfo=UTC),
    )
    return Entry(**{**base, **values})


@given(
    sort=st.sampled_from(SORTABLE),
    entry_id=st.integers(min_value=1, max_value=2**53),
    text=st.text(max_size=30),
)
def test_a_cursor_gives_back_the_value_and_id_it_was_made_from(sort, entry_id, text):
    entry = _entry(id=entry_id, reference=text, error=text or None, endpoint_id=text or None)
    value, last = decode_cursor(sort, encode_cursor(sort, entry))
    expected = getattr(entry, sort)
    expected = "" if expected is None else getattr(expected, "value", expected)
    assert (value, last) == (expected, entry_id)


def test_a_cursor_of_another_order_or_garbage_is_refused_naming_after():
    token = encode_cursor("reference", _entry())
    for sort, bad in (("status", token), ("id", "not-a-cursor"), ("id", "")):
        with pytest.raises(ConfigError, match="after"):
            decode_cursor(sort, bad)


def test_queries_refuse_unknown_sorts_and_silly_limits():
    f = EntryFilter(workspace_id="w")
    with pytest.raises(ConfigError, match="sort"):
        ReportQuery(filter=f, sort="payload")
    with pytest.raises(ConfigError, match="limit"):
        ReportQuery(filter=f, limit=0)


def test_retention_cutoffs_and_validation():
    now = datetime(2026, 11, 22, tzinfo=UTC)
    r = Retention()
    assert r.entries_before(now) == now - timedelta(days=15)
    assert r.payloads_before(now) == now - timedelta(hours=72)
    assert r.runs_purged_before(now) == now - timedelta(days=1)
    with pytest.raises(ConfigError, match="payload_hours"):
        Retention(payload_hours=-1)
