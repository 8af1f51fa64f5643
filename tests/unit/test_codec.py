"""Payloads decoded all at once are the same as payloads decoded one by one."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from syncwright.engine.codec import Codec
from syncwright.sdk.changes import Column

COLUMNS = (
    Column(name="id", type="int64"),
    Column(name="label", type="string"),
    Column(name="at", type="timestamp[us]"),
    Column(name="day", type="date32"),
    Column(name="amount", type="decimal128(12, 2)"),
)
ROW = st.fixed_dictionaries(
    {
        "id": st.integers(),  # beyond 64 bits too
        "label": st.one_of(st.none(), st.text()),
        "at": st.one_of(st.none(), st.datetimes().map(datetime.isoformat)),
        "day": st.dates().map(date.isoformat),
        "amount": st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
    },
    optional={"extra": st.floats(allow_nan=False)},
)


@settings(deadline=None)
@given(st.lists(ROW, max_size=20))
def test_decoding_many_is_decoding_each(rows):
    codec = Codec(COLUMNS)
    payloads = [json.dumps(row) for row in rows]
    many = codec.decode_many(payloads)
    assert many == [codec.decode(p) for p in payloads]
    for got in many:
        assert isinstance(got["day"], date) and isinstance(got["amount"], Decimal)
        assert got["at"] is None or isinstance(got["at"], datetime)
