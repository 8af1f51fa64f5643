"""One JSON document per item in a folder; removed items lose their document."""

import json
import os
from pathlib import Path

from syncwright import (
    Capabilities,
    ChangeBatch,
    ConnectorConfig,
    Destination,
    ItemResult,
    LocalPath,
    Operation,
)


class JsonFolderConfig(ConnectorConfig):
    #: Typed LocalPath: the platform refuses a folder outside its connector paths or inside
    #: the installation's own files.
    folder: LocalPath
    indent: int | None = 2


class JsonFolderDestination(Destination):
    type = "json_folder"
    config_class = JsonFolderConfig
    supports = Capabilities(deletes=True)

    def write(self, batch: ChangeBatch) -> list[ItemResult]:
        folder = Path(self.config.folder)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for change in batch.changes:
            name = "-".join(str(v) for v in change.key.values())
            if "/" in name or name.startswith("."):
                results.append(ItemResult.failed(f"key {name!r} is not a file name"))
                continue
            path = folder / f"{name}.json"
            if change.operation is Operation.REMOVE:
                path.unlink(missing_ok=True)
            else:
                temporary = path.with_suffix(".tmp")
                text = json.dumps(change.fields, indent=self.config.indent, default=str)
                temporary.write_text(text)
                os.replace(temporary, path)  # readers never see half a document
            results.append(ItemResult.ok(endpoint_id=str(path)))
        return results
