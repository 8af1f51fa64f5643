"""The docs stay true: every CLI command is documented, and the config examples are valid."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel

from syncwright.cli.account_commands import tokens_app, users_app
from syncwright.cli.app import app, artifacts_app, db_app
from syncwright.connectors.registry import BUILTIN, ConnectorRegistry
from syncwright.services.config_file import parse_config

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_command_is_in_the_cli_reference():
    text = (DOCS / "reference" / "cli.md").read_text()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    names += [f"db {c.name}" for c in db_app.registered_commands]
    names += [f"artifacts {c.name}" for c in artifacts_app.registered_commands]
    names += [f"users {c.name}" for c in users_app.registered_commands]
    names += [f"tokens {c.name}" for c in tokens_app.registered_commands]
    assert names
    for name in names:
        assert f"## `syncwright {name}" in text, name


def test_config_examples_parse():
    text = (DOCS / "reference" / "config.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        assert yaml.safe_load(block)
        env = {"WAREHOUSE_URL": "sqlite:///w.db", "OPS_SECRET": "s" * 16, "SLACK_WEBHOOK_URL": "x"}
        doc = parse_config(block, env=env)
        assert doc.syncs


def test_the_connector_guide_example_runs(tmp_path):
    text = (DOCS / "how-to" / "write-a-connector.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    import sys
    import types

    module = types.ModuleType("write_a_connector")  # where pydantic resolves annotations
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    exec(compile(code, "write-a-connector.md", "exec"), namespace)
    dest = namespace["PrintDestination"]({})
    from syncwright import Change, ChangeBatch, Operation, WriteMode

    results = dest.write(
        ChangeBatch(
            changes=[Change(operation=Operation.ADD, key={"id": 1}, fields={"id": 1})],
            write_mode=WriteMode.UPSERT,
            primary_key=("id",),
        )
    )
    assert [r.status.value for r in results] == ["ok"]

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "out"
    folder.mkdir()
    bulk = namespace["ParquetDestination"]({"folder": str(folder)})
    answer = bulk.write(
        ChangeBatch(
            table=pa.table({"id": [1, 2], "name": ["a", None]}),
            operations=pa.array(["add", "remove"]),
            references=pa.array(["1", "2"]),
            write_mode=WriteMode.MIRROR,
            primary_key=("id",),
            run_id="r",
        )
    )
    assert [r.status.value for r in answer] == ["ok", "ok"]
    written = pq.read_table(folder / "r-0.parquet").to_pylist()
    assert written == [
        {"id": 1, "name": "a", "operation": "add"},
        {"id": 2, "name": None, "operation": "remove"},
    ]


def _field_names(model: type[BaseModel]) -> set[str]:
    """A config's fields, with those of nested settings (auth, pagination)."""
    found = set()
    for name, info in model.model_fields.items():
        found.add(name)
        for inner in typing.get_args(info.annotation) or (info.annotation,):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found |= _field_names(inner)
    return found


def test_every_connector_config_field_is_documented():
    registry = ConnectorRegistry()
    assert len(BUILTIN) >= 7
    for (kind, type_name), _ in BUILTIN.items():
        page = DOCS / "connectors" / f"{type_name}.md"
        assert page.exists(), f"{kind} {type_name} has no page in docs/connectors"
        cls = (
            registry.source_class(type_name)
            if kind == "source"
            else registry.destination_class(type_name)
        )
        text = page.read_text()
        missing = sorted(f for f in _field_names(cls.config_class) if f"`{f}`" not in text)
        assert not missing, f"{page.name} does not document {missing}"


def test_every_page_of_the_web_ui_is_in_its_guide():
    from syncwright.web import alerts, report, runs, syncs

    text = (DOCS / "ui.md").read_text()
    pages = [
        route.path
        for module in (syncs, runs, report, alerts)
        for route in module.router.routes
        if "GET" in route.methods  # type: ignore[attr-defined]
        and not route.path.endswith(("/delete", "/latest", "/file", ".csv"))
    ]
    assert len(pages) == 9
    for path in pages:
        documented = re.sub(r"\{(sync|run|alert|entry)_id\}", "{id}", path).replace(
            "{workspace_id}", "{workspace}"
        )
        assert f"`{documented}" in text, path
