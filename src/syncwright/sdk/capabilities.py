"""What a connector declares it supports, checked when a sync is applied."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """A connector's manifest: which kinds of synchronisation it can take part in."""

    incremental: bool = True
    full: bool = True
    deletes: bool = False
    updates: bool = True
    file_output: bool = False
    confirmation: bool = False
    #: A source that can read the keys of every row alone (``ReadRequest.keys_only``), so
    #: cursor syncs see removals without reading whole rows.
    keys: bool = False
