"""Arrow tables as the store's blobs: each format reads back what was packed, and blobs
written in the earlier format (the stream compressed buffer by buffer) still read."""

from __future__ import annotations

import pyarrow as pa

from syncwright.storage.arrow_blobs import pack, pack_chunked, rows_at, unpack


def _table(n: int) -> pa.Table:
    return pa.table(
        {
            "item_key": [f'{{"id":{i}}}' for i in range(n)],
            "row_hash": [None if i % 7 == 0 else f"{i:032x}" for i in range(n)],
            "removed": [i % 5 == 0 for i in range(n)],
        }
    )


def test_a_packed_table_reads_back_equal_as_do_blobs_packed_buffer_by_buffer():
    table = _table(20_000)
    data = pack(table)
    assert unpack(data).equals(table)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write(table)
    earlier = sink.getvalue().to_pybytes()
    assert unpack(earlier).equals(table)


def test_an_empty_table_and_a_record_batch_pack_too():
    empty = _table(0)
    assert unpack(pack(empty)).equals(empty)
    batch = _table(3).to_batches()[0]
    assert unpack(pack(batch)).equals(pa.Table.from_batches([batch]))


def test_rows_are_read_from_every_format():
    table = _table(2_500)
    wanted = [0, 999, 1_000, 2_499, 2_500]
    expected = {p: table.slice(p, 1).to_pylist()[0] for p in wanted if p < table.num_rows}
    for data in (pack(table), pack_chunked(table, 1_000)):
        assert rows_at(data, wanted) == expected
    assert unpack(pack_chunked(table, 1_000)).equals(table)
