"""The connector conformance kit: a connector's standard tests in one subclass.

In a test module::

    from syncwright.sdk.testing import DestinationContract

    class TestMyDestination(DestinationContract):
        destination_class = MyDestination

        def config(self):
            return {"url": "http://127.0.0.1:8080"}

pytest then runs every ``test_*`` of the contract against the connector: reads are stable,
keys are unique, results cover every item, errors are classified (a failing connector raises
or returns syncwright's errors with a reason, never a bare crash), config errors name the
field. A destination is given its batches in both forms the engine may give them: as
``Change`` rows and as Arrow (``columnar``), and may answer per item or for the whole batch.
Optional hooks (``failing_config``, ``bad_batch``...) return None to skip a check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, ClassVar, Iterable, Mapping, NoReturn, Sequence

import pyarrow as pa

from syncwright.domain.errors import ConfigError, SyncwrightError
from syncwright.domain.statuses import EntryStatus, Operation, WriteMode
from syncwright.sdk.capabilities import Capabilities
from syncwright.sdk.changes import BatchResult, Change, ChangeBatch, Column, ItemResult
from syncwright.sdk.destination import Destination, Publication, RunInfo
from syncwright.sdk.source import ReadRequest, Source

#: A small model every destination can take: a key, text, a number, a flag.
SAMPLE_COLUMNS = (
    Column(name="id", type="int64"),
    Column(name="sku", type="string"),
    Column(name="price", type="double"),
    Column(name="active", type="bool"),
)


def _skip(reason: str) -> NoReturn:
    import pytest  # the kit runs under pytest; connectors do not need it otherwise

    pytest.skip(reason)


def read_rows(source: Source, request: ReadRequest) -> list[dict[str, Any]]:
    """Everything a source yields for a request, as dict rows."""
    return _rows(source.read(request))


def _rows(items: Iterable[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, (pa.RecordBatch, pa.Table)):
            rows.extend(item.to_pylist())
        elif isinstance(item, dict):
            rows.append(item)
        else:
            raise AssertionError(f"a source yields Arrow batches or dicts, not {type(item)}")
    return rows


def sample_batch(
    rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    operation: Operation = Operation.ADD,
    write_mode: WriteMode = WriteMode.UPSERT,
    run_id: str = "conformance-run",
    index: int = 0,
) -> ChangeBatch:
    """A batch of changes over ``SAMPLE_COLUMNS`` (10 rows unless given)."""
    if rows is None:
        rows = [
            {"id": i, "sku": f"SKU-{i}", "price": i * 1.25, "active": i % 2 == 0}
            for i in range(1, 11)
        ]
    changes = [
        Change(
            operation=operation,
            key={"id": row["id"]},
            fields=None if operation is Operation.REMOVE else dict(row),
            reference=str(row.get("sku", row["id"])),
        )
        for row in rows
    ]
    return ChangeBatch(
        changes=changes,
        write_mode=write_mode,
        primary_key=("id",),
        columns=SAMPLE_COLUMNS,
        run_id=run_id,
        index=index,
    )


def columnar(batch: ChangeBatch) -> ChangeBatch:
    """The same batch given as Arrow, as the engine gives it (``batch.table`` then costs
    nothing, and ``batch.changes`` is built from it)."""
    return ChangeBatch(
        table=batch.table,
        operations=batch.operations,
        references=batch.references,
        write_mode=batch.write_mode,
        primary_key=batch.primary_key,
        columns=batch.columns,
        run_id=batch.run_id,
        index=batch.index,
        unchanged_table=batch.unchanged_table,
    )


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


def _config_errors(
    cls: type[Source] | type[Destination], cases: Sequence[tuple[Mapping[str, Any], str]]
) -> None:
    if not cases:
        _skip("no invalid_configs declared")
    for config, field in cases:
        try:
            cls.config_class.parse(config, where="config")
        except ConfigError as exc:
            assert exc.field is not None and field in exc.field, (
                f"{dict(config)} was refused, but naming {exc.field!r} instead of {field!r}"
            )
        else:
            raise AssertionError(f"{dict(config)} was accepted; it must be refused ({field})")


class SourceContract:
    """Standard tests of a source. Set ``source_class``; implement ``config`` and ``request``."""

    source_class: ClassVar[type[Source]]
    #: Configs that must be refused, each with (part of) the field the error must name.
    invalid_configs: ClassVar[Sequence[tuple[Mapping[str, Any], str]]] = ()

    def config(self) -> Mapping[str, Any]:
        raise NotImplementedError("return a working config")

    def request(self) -> ReadRequest:
        raise NotImplementedError("return the ReadRequest of a model over the test data")

    def failing_config(self) -> Mapping[str, Any] | None:
        """A config that parses but cannot be read (e.g. an unreachable endpoint)."""
        return None

    def test_declares_type_and_capabilities(self) -> None:
        assert isinstance(self.source_class.type, str) and self.source_class.type
        assert isinstance(self.source_class.supports, Capabilities)

    def test_reads_are_stable(self) -> None:
        first = read_rows(self.source_class(self.config()), self.request())
        second = read_rows(self.source_class(self.config()), self.request())
        assert first, "the test data must have rows"
        assert _canonical(first) == _canonical(second), "two reads of the same data differ"

    def test_keys_are_unique(self) -> None:
        request = self.request()
        rows = read_rows(self.source_class(self.config()), request)
        keys = [tuple(row.get(k) for k in request.primary_key) for row in rows]
        assert all(None not in key for key in keys), "a row has an empty primary key"
        assert len(set(keys)) == len(keys), "primary keys repeat"

    def test_count_is_the_rows_read(self) -> None:
        """As the engine asks: counted on another thread while the same source reads (here
        once the read has yielded its first rows, so that the two overlap)."""
        request = self.request()
        whole = dataclasses.replace(request, cursor_column=None, cursor_value=None)
        source = self.source_class(self.config())
        try:
            reading = iter(source.read(whole))
            first = next(reading, None)
            with ThreadPoolExecutor(1) as pool:
                counted = pool.submit(source.count, request).result()
            rest = list(reading)
        finally:
            source.close()
        if counted is None:
            _skip("the source does not count its rows")
        rows = _rows([] if first is None else [first, *rest])
        assert counted == len(rows), f"count() says {counted} rows, read() gives {len(rows)}"

    def test_errors_are_classified(self) -> None:
        config = self.failing_config()
        if config is None:
            _skip("no failing_config declared")
        source = self.source_class(config)
        try:
            read_rows(source, self.request())
        except SyncwrightError as exc:
            assert str(exc), "the error must say why"
        else:
            raise AssertionError("reading with failing_config() did not fail")
        finally:
            source.close()

    def test_config_errors_name_the_field(self) -> None:
        _config_errors(self.source_class, self.invalid_configs)


class DestinationContract:
    """Standard tests of a destination. Set ``destination_class``; implement ``config``."""

    destination_class: ClassVar[type[Destination]]
    invalid_configs: ClassVar[Sequence[tuple[Mapping[str, Any], str]]] = ()

    def config(self) -> Mapping[str, Any]:
        raise NotImplementedError("return a working config")

    def batch(self) -> ChangeBatch:
        return sample_batch()

    def bad_batch(self) -> tuple[ChangeBatch, int] | None:
        """A batch whose item at the given index the endpoint rejects."""
        return None

    def failing_config(self) -> Mapping[str, Any] | None:
        return None

    def run_info(self) -> RunInfo:
        return RunInfo(
            run_id="conformance-run",
            sync_name="conformance",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            columns=SAMPLE_COLUMNS,
        )

    def _write(
        self, config: Mapping[str, Any], batch: ChangeBatch
    ) -> list[ItemResult] | BatchResult:
        destination = self.destination_class(config)
        try:
            return destination.write(batch)
        finally:
            destination.close()

    def _check_results(self, batch: ChangeBatch, results: list[ItemResult] | BatchResult) -> None:
        assert isinstance(results, (list, BatchResult)), (
            f"write returns a list of ItemResult or a BatchResult, not {type(results)}"
        )
        assert len(results) == len(batch), f"{len(results)} results for {len(batch)} changes"
        for result in results:
            assert isinstance(result, ItemResult)
            assert result.status in (EntryStatus.OK, EntryStatus.SENT, EntryStatus.FAILED)
            if result.status is EntryStatus.FAILED:
                assert result.error, "a failed result must carry the reason"

    def test_declares_type_and_capabilities(self) -> None:
        assert isinstance(self.destination_class.type, str) and self.destination_class.type
        assert isinstance(self.destination_class.supports, Capabilities)

    def test_results_cover_every_item(self) -> None:
        batch = self.batch()
        results = self._write(self.config(), batch)
        self._check_results(batch, results)
        assert all(r.status is not EntryStatus.FAILED for r in results), [
            r.error for r in results if r.error
        ]

    def test_results_cover_every_item_of_a_batch_given_as_arrow(self) -> None:
        batch = columnar(self.batch())
        results = self._write(self.config(), batch)
        self._check_results(batch, results)
        assert all(r.status is not EntryStatus.FAILED for r in results), [
            r.error for r in results if r.error
        ]

    def test_writes_can_be_repeated(self) -> None:
        batch = self.batch()
        self._write(self.config(), batch)
        again = self._write(self.config(), batch)
        self._check_results(batch, again)
        assert all(r.status is not EntryStatus.FAILED for r in again), "a replay failed"

    def test_a_rejected_item_fails_alone(self) -> None:
        bad = self.bad_batch()
        if bad is None:
            _skip("no bad_batch declared")
        given, index = bad
        forms = [given]
        # Values of two types in one column have no Arrow form (the engine's batches do).
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):
            forms.append(columnar(given))
        for batch in forms:
            results = self._write(self.config(), batch)
            self._check_results(batch, results)
            failed = [i for i, r in enumerate(results) if r.status is EntryStatus.FAILED]
            assert failed == [index], f"items {failed} failed, expected only {index}"

    def test_errors_are_classified(self) -> None:
        config = self.failing_config()
        if config is None:
            _skip("no failing_config declared")
        batch = self.batch()
        destination = self.destination_class(config)
        try:
            results = destination.write(batch)
            if destination.supports.file_output:  # file destinations reach out when publishing
                destination.publish(self.run_info())
                raise AssertionError("publishing with failing_config() did not fail")
        except SyncwrightError as exc:
            assert str(exc), "the error must say why"
            return
        finally:
            destination.close()
        self._check_results(batch, results)
        assert all(r.status is EntryStatus.FAILED for r in results), "a failing write passed"

    def test_config_errors_name_the_field(self) -> None:
        _config_errors(self.destination_class, self.invalid_configs)

    def test_file_output_is_published(self) -> None:
        if not self.destination_class.supports.file_output:
            _skip("not a file destination")
        destination = self.destination_class(self.config())
        try:
            batch = self.batch()
            results = destination.write(batch)
            self._check_results(batch, results)
            publication = destination.publish(self.run_info())
        finally:
            destination.close()
        assert isinstance(publication, Publication)
        assert publication.rows == len(batch) and publication.size > 0
        assert publication.checksum
