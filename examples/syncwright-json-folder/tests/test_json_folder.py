"""The example connector passes syncwright's conformance kit and is found as a plugin."""

import json

import pytest
from syncwright_json_folder import JsonFolderDestination

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.sdk.testing import DestinationContract, sample_batch


class TestJsonFolder(DestinationContract):
    destination_class = JsonFolderDestination
    invalid_configs = [({}, "folder"), ({"folder": "x", "indent": "wide"}, "indent")]

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path):
        self.folder = tmp_path / "docs"

    def config(self):
        return {"folder": str(self.folder)}

    def bad_batch(self):
        rows = [{"id": i if i != 3 else "../escape", "sku": f"S{i}"} for i in range(1, 6)]
        return sample_batch(rows), 2


def test_documents_follow_the_changes(tmp_path):
    destination = JsonFolderDestination({"folder": str(tmp_path)})
    destination.write(sample_batch())
    assert json.loads((tmp_path / "4.json").read_text())["sku"] == "SKU-4"
    from syncwright import Operation

    destination.write(sample_batch([{"id": 4}], operation=Operation.REMOVE))
    assert not (tmp_path / "4.json").exists()
    assert len(list(tmp_path.glob("*.json"))) == 9


def test_found_through_the_entry_point():
    registry = ConnectorRegistry()
    assert "json_folder" in registry.types("destination")
    assert registry.destination_class("json_folder") is JsonFolderDestination
