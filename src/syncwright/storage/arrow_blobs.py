"""Arrow tables as compressed bytes for the store (Arrow IPC, zstd), cut to size: the stream
format, read whole, or the file format in chunks, of which one can be read alone."""

from __future__ import annotations

import struct
from typing import Iterable, Iterator

import pyarrow as pa

_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")
#: A whole stream compressed as one zstd frame, after this mark and its size: a fifth
#: smaller than the stream compressed buffer by buffer, and three times as fast to read
#: (a 1M-item snapshot: 20 MB read in 0.07 s, against 25 MB in 0.2-0.3 s).
_ZSTD_MAGIC = b"SWZSTD1\0"
_SIZE = struct.Struct("<Q")


def pack(table: pa.Table | pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    stream = sink.getvalue()
    compressed = pa.compress(stream, codec="zstd", asbytes=True)
    return _ZSTD_MAGIC + _SIZE.pack(stream.size) + compressed


def pack_chunked(table: pa.Table, chunk: int) -> bytes:
    """The table in the IPC file format as record batches of ``chunk`` rows (the last
    fewer), each compressed on its own: ``rows_at`` decompresses only those it needs."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(
        sink, table.schema.with_metadata({b"chunk": str(chunk).encode()}), options=_OPTIONS
    ) as writer:
        for batch in table.combine_chunks().to_batches(max_chunksize=chunk):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


_FILE_MAGIC = b"ARROW1"


def unpack(data: bytes) -> pa.Table:
    """A table from any of the three formats (``pack``'s, ``pack_chunked``'s, and the
    stream compressed buffer by buffer that ``pack`` wrote before)."""
    if data[:8] == _ZSTD_MAGIC:
        (size,) = _SIZE.unpack_from(data, 8)
        stream = pa.decompress(pa.py_buffer(data).slice(8 + _SIZE.size), size, codec="zstd")
        return pa.ipc.open_stream(stream).read_all()
    if data[:6] == _FILE_MAGIC:
        table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
        return table.replace_schema_metadata(None)
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def rows_at(data: bytes, positions: Iterable[int]) -> dict[int, dict[str, object]]:
    """The rows at ``positions`` (row numbers of the whole table) as dicts, reading only the
    chunks that hold them (all of it for the stream format)."""
    wanted = sorted(p for p in set(positions) if p >= 0)
    if data[:6] != _FILE_MAGIC:  # one of the stream formats
        table = unpack(data)
        return {p: _row(table, p) for p in wanted if 0 <= p < table.num_rows}
    reader = pa.ipc.open_file(pa.py_buffer(data))
    chunk = int((reader.schema.metadata or {}).get(b"chunk", b"0")) or None
    found: dict[int, dict[str, object]] = {}
    if chunk is None:
        return found
    for number in sorted({p // chunk for p in wanted}):
        if number >= reader.num_record_batches:
            continue
        batch = reader.get_batch(number)
        for p in wanted:
            if p // chunk == number and p % chunk < batch.num_rows:
                found[p] = _row(batch, p % chunk)
    return found


def _row(table: pa.Table | pa.RecordBatch, index: int) -> dict[str, object]:
    return {name: table.column(name)[index].as_py() for name in table.schema.names}


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Cut a stream of record batches into tables of exactly ``size`` rows (the last fewer)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(size - count, batch.num_rows)
            held.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == size:
                yield pa.Table.from_batches(held)
                held, count = [], 0
    if count:
        yield pa.Table.from_batches(held)
