"""The tables of syncwright's store. Every change here comes with an Alembic migration."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UTCDateTime = sa.DateTime(timezone=True)


def _row_id() -> sa.Column[int]:
    """A 64-bit auto-increment id (SQLite's rowid, which is 64-bit, under its own name)."""
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def _audit() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
        sa.Column("created_by_user_id", sa.String(36), sa.ForeignKey("users.id")),
        sa.Column("updated_by_user_id", sa.String(36), sa.ForeignKey("users.id")),
    ]


workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200)),
    sa.Column("password_hash", sa.String(500)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: A user's role in a workspace; a user sees only the workspaces they are a member of.
memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_memberships_user_id", "user_id"),
)

#: API tokens: the SHA-256 of each secret (the secret itself is shown once, never stored).
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("hint", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)

#: Signed-in browsers: the SHA-256 of each session cookie, its user, its CSRF token.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_web_sessions_user_id", "user_id"),
)

#: Failed attempts counted per key: sign-ins per account (``account``, by e-mail) and per
#: client address (``address``), invalid API tokens per client address (``token``). Shared by
#: every process of the installation; a row whose count holds nothing any more is deleted.
throttle_failures = sa.Table(
    "throttle_failures",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_at", UTCDateTime, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
    sa.Index("ix_throttle_failures_kind_last_at", "kind", "last_at"),
)

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    *_audit(),
    sa.UniqueConstraint("workspace_id", "name"),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source_id", sa.String(36), sa.ForeignKey("sources.id"), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("primary_key", sa.JSON, nullable=False),
    sa.Column("reference", sa.String(200)),
    sa.Column("cursor", sa.String(200)),
    *_audit(),
    sa.UniqueConstraint("workspace_id", "name"),
)

destinations = sa.Table(
    "destinations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    #: At most this many runs writing to the destination at once (None: no cap).
    sa.Column("max_runs", sa.Integer),
    *_audit(),
    sa.UniqueConstraint("workspace_id", "name"),
)

syncs = sa.Table(
    "syncs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("model_id", sa.String(36), sa.ForeignKey("models.id"), nullable=False),
    sa.Column("destination_id", sa.String(36), sa.ForeignKey("destinations.id"), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("write_mode", sa.String(20), nullable=False),
    sa.Column("detection", sa.String(20), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("folder", sa.String(200)),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    *_audit(),
    sa.UniqueConstraint("workspace_id", "name"),
)

#: Per-sync engine state: the saved cursor of cursor syncs.
sync_states = sa.Table(
    "sync_states",
    metadata,
    sa.Column("sync_id", sa.String(36), sa.ForeignKey("syncs.id"), primary_key=True),
    sa.Column("cursor", sa.JSON),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: What was last delivered successfully, per sync and item: the base of change detection.
#: Kept as compressed Arrow parts (see ``snapshot_parts``); rows here are from stores made
#: before 0005, read once and folded into parts by the sync's next run.
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("sync_id", sa.String(36), primary_key=True),
    sa.Column("item_key", sa.Text, primary_key=True),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("row_hash", sa.String(32), nullable=False),
)

#: The snapshot of each sync as a log of compressed Arrow records of (item_key, reference,
#: row_hash, removed): a ``base`` written when a run folds the log, then one part per delivered
#: batch. The newest part that names an item says what it was delivered as.
snapshot_parts = sa.Table(
    "snapshot_parts",
    metadata,
    _row_id(),
    sa.Column("sync_id", sa.String(36), nullable=False),
    sa.Column("base", sa.Boolean, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    #: Random, given to each part as it is written: a part's number can come again (see
    #: migration 0014); none on parts written before.
    sa.Column("token", sa.String(32)),
    sa.Index("ix_snapshot_parts_sync_id", "sync_id", "id"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("sync_id", sa.String(36), sa.ForeignKey("syncs.id"), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("infos", sa.JSON, nullable=False),
    sa.Column("read", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("added", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("changed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("removed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("ok", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("sent", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("pending", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failed", sa.BigInteger, nullable=False, server_default="0"),
    #: Items a cancel (or a timeout) left without an attempt.
    sa.Column("not_sent", sa.BigInteger, nullable=False, server_default="0"),
    #: Deliveries of an item that an earlier attempt left to try again.
    sa.Column("retries", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime),
    sa.Column("runner", sa.String(200)),
    sa.Column("created_by_user_id", sa.String(36), sa.ForeignKey("users.id")),
    #: When a planned run (status ``scheduled``) is due.
    sa.Column("scheduled_for", UTCDateTime),
    #: Queue order among runs waiting for capacity (lower first: people before automation).
    sa.Column("priority", sa.Integer, nullable=False, server_default="5"),
    #: When the run got capacity and was handed to the engine's queue.
    sa.Column("admitted_at", UTCDateTime),
    #: When the run ran: started, else scheduled, else created (what lists order runs by).
    sa.Column("ran_at", UTCDateTime, nullable=False),
    sa.Index("ix_runs_sync_created", "sync_id", "created_at"),
    sa.Index("ix_runs_status_scheduled", "status", "scheduled_for"),
    # At most one planned run per sync and trigger: a burst of edits, ticks or upstream runs
    # folds into it.
    sa.Index(
        "uq_runs_planned",
        "sync_id",
        "trigger",
        unique=True,
        sqlite_where=sa.text("status = 'scheduled'"),
        postgresql_where=sa.text("status = 'scheduled'"),
    ),
    sa.Index("ix_runs_workspace_created", "workspace_id", "created_at"),
    sa.Index("ix_runs_workspace_ran", "workspace_id", "ran_at"),
    sa.Index("ix_runs_sync_ran", "sync_id", "ran_at"),
    sa.Index("ix_runs_status", "status"),
)

#: Text compared byte by byte on PostgreSQL too, so a prefix search is an index range.
BinaryText = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

#: A compact number for each run, sync and workspace that has entries: the entry rows and
#: their indexes carry these numbers, not the 36-character ids (a third of the size, and
#: half the time to write an entry). Numbers are given in order and never reused.
scopes = sa.Table(
    "scopes",
    metadata,
    _row_id(),
    #: ``run``, ``sync`` or ``workspace``.
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("uid", sa.String(36), nullable=False),
    sa.UniqueConstraint("kind", "uid"),
    sqlite_autoincrement=True,
)

entries = sa.Table(
    "entries",
    metadata,
    _row_id(),
    sa.Column("run_no", sa.BigInteger, nullable=False),
    sa.Column("sync_no", sa.BigInteger, nullable=False),
    sa.Column("workspace_no", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    #: The run's change set record that holds the item as sent (its payload), while the
    #: retention keeps payloads.
    sa.Column("batch", sa.Integer),
    sa.Column("item_key", sa.Text, nullable=False),
    sa.Column("reference", BinaryText, nullable=False),
    sa.Column("system", sa.String(200), nullable=False),
    sa.Column("source_id", sa.Text, nullable=False),
    sa.Column("endpoint_id", sa.Text),
    sa.Column("operation", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("error_group", sa.String(200)),
    sa.Column("retry_of", sa.BigInteger),
    sa.Column("row_hash", sa.String(32)),
    #: Entries written before the change set records kept payloads hold theirs here.
    sa.Column("payload", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Every report query is an equality prefix then ``id`` (newest first): the first page is
    # an index range read backwards, whatever the size of the table. Which query reads
    # which index: docs/architecture.md ("The report's indexes").
    sa.Index("ix_entries_run_no_status_seq", "run_no", "status", "seq"),
    sa.Index("ix_entries_run_no_id", "run_no", "id"),
    sa.Index("ix_entries_sync_no_id", "sync_no", "id"),
    sa.Index("ix_entries_sync_no_status_id", "sync_no", "status", "id"),
    sa.Index("ix_entries_sync_no_item_key_id", "sync_no", "item_key", "id"),
    sa.Index("ix_entries_workspace_no_status_id", "workspace_no", "status", "id"),
    sa.Index("ix_entries_workspace_no_reference_id", "workspace_no", "reference", "id"),
)

#: A run's change set: one compressed Arrow record per batch, holding each item's sequence
#: number, key, reference, operation, hash and payload (for a destination that takes the
#: whole model, the unchanged rows follow, as operation ``unchanged``; ``items`` counts the
#: items only, ``rows`` every row). A batch's entries are written once, with their outcome,
#: when it is delivered. When the run ends its records keep the items only, as the payloads
#: the report shows, until the retention drops them.
run_batches = sa.Table(
    "run_batches",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("batch", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("items", sa.Integer, nullable=False),
    #: Every row of the record, items and unchanged rows (unknown for records of before 0013).
    sa.Column("rows", sa.Integer),
    #: The sequence number of the record's first row (its rows follow in order).
    sa.Column("first_seq", sa.Integer),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

#: Items whose newest entry failed, per sync: the next run links its entry to that one.
item_failures = sa.Table(
    "item_failures",
    metadata,
    sa.Column("sync_id", sa.String(36), primary_key=True),
    sa.Column("item_key", sa.Text, primary_key=True),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
)

#: What went to the destination and what came back for a failed entry (when the destination
#: said): the request's method, URL and body after templates, the answer's status and body.
entry_exchanges = sa.Table(
    "entry_exchanges",
    metadata,
    sa.Column("entry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("exchange", sa.JSON, nullable=False),
)

#: The items a resync run sends again, each with the entry it resyncs.
resync_items = sa.Table(
    "resync_items",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("item_key", sa.Text, primary_key=True),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
)

#: Where the retention job has got to, so each pass starts where the last one stopped.
maintenance = sa.Table(
    "maintenance",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: Engine processes and their heartbeats: a worker silent for too long has its runs taken
#: over by a live one.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("executor_id", sa.String(200), primary_key=True),
    sa.Column("runner", sa.String(200), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    #: The engine's application version: runs of a version no live process runs are adopted.
    sa.Column("application_version", sa.String(100)),
)

#: Inbound webhook triggers: the hash of each sync's secret (the secret is shown once).
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("sync_id", sa.String(36), sa.ForeignKey("syncs.id"), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
)

#: Files runs published (feeds, uploads): where, how big, their checksum, and the constant
#: "latest" location that always holds the newest complete one.
artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("sync_id", sa.String(36), sa.ForeignKey("syncs.id"), nullable=False),
    sa.Column("workspace_id", sa.String(36), nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("latest", sa.Text),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(100), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("run_id"),
    sa.Index("ix_artifacts_sync_created", "sync_id", "created_at"),
)

#: Who changed the configuration or acted by hand (started, cancelled, resynced, turned on or
#: off, managed members), newest last. ``user_id`` is empty for the command line.
audit_log = sa.Table(
    "audit_log",
    metadata,
    _row_id(),
    sa.Column("workspace_id", sa.String(36), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("user_id", sa.String(36)),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("object_type", sa.String(20), nullable=False),
    sa.Column("object_id", sa.String(36)),
    sa.Column("object_name", sa.String(200)),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_audit_log_workspace_id", "workspace_id", "id"),
)

#: Where alert notices go: a signed webhook, a Slack-compatible webhook or e-mail addresses.
#: ``config`` holds the channel's settings, its secrets sealed.
alert_channels = sa.Table(
    "alert_channels",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    *_audit(),
    sa.UniqueConstraint("workspace_id", "name"),
)

#: What to watch (one sync, or all of a workspace's when ``sync_id`` is empty), the condition
#: with its thresholds, and the channels to notify.
alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("condition", sa.String(30), nullable=False),
    sa.Column("sync_id", sa.String(36), sa.ForeignKey("syncs.id")),
    sa.Column("thresholds", sa.JSON, nullable=False),
    sa.Column("channel_ids", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    *_audit(),
    sa.UniqueConstraint("workspace_id", "name"),
)

#: One incident per rule and sync while its condition holds: opened once, closed when it
#: clears. At most one is open per rule and sync, whichever process judges first.
alert_incidents = sa.Table(
    "alert_incidents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workspace_id", sa.String(36), nullable=False),
    sa.Column("rule_id", sa.String(36), sa.ForeignKey("alert_rules.id"), nullable=False),
    sa.Column("sync_id", sa.String(36), sa.ForeignKey("syncs.id"), nullable=False),
    sa.Column("run_id", sa.String(36)),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("resolution", sa.Text),
    sa.Index("ix_alert_incidents_workspace_opened", "workspace_id", "opened_at"),
    sa.Index(
        "uq_alert_incidents_open",
        "rule_id",
        "sync_id",
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    ),
)

#: Each notice of an incident to each channel: tried until delivered or the retries run out.
alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    _row_id(),
    sa.Column("incident_id", sa.String(36), sa.ForeignKey("alert_incidents.id"), nullable=False),
    sa.Column("channel_id", sa.String(36), sa.ForeignKey("alert_channels.id"), nullable=False),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index("ix_alert_deliveries_incident_id", "incident_id"),
    sa.Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),
)
