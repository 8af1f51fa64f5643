"""`serve` and `worker` log one JSON object per line when asked, naming the run and the sync
each line is about; a wrong log setting is refused naming the variable."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess

import psycopg

from syncwright.engine.notify import signature
from tests.support.catalogue import Catalogue
from tests.support.cli import start_engine, sw, wait_for
from tests.support.http_api import Answer, HttpApi
from tests.support.smtp_server import SmtpServer

CONFIG = """
sources:   {{shop: {{type: sql, url: "sqlite:///{shop}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM products", primary_key: id, reference: sku}}}}
destinations: {{api: {{type: http, url: "{url}/items", batch_size: 10}}}}
syncs:
  logged: {{model: products, destination: api}}
"""


def test_json_logs_name_the_run_and_the_sync(tmp_path):
    api = HttpApi()
    try:
        Catalogue(tmp_path / "shop.db").put(*({"id": i} for i in range(1, 6)))
        (tmp_path / "sw.yml").write_text(CONFIG.format(shop=tmp_path / "shop.db", url=api.url))
        sw(tmp_path, "apply", "-f", "sw.yml")
        worker = start_engine(tmp_path, command=("worker",), SYNCWRIGHT_LOG_FORMAT="json")
        try:
            sw(tmp_path, "run", "logged")
            run = wait_for(
                lambda: (
                    (r := json.loads(sw(tmp_path, "runs", "--json").stdout)[0])["status"]
                    == "succeeded"
                    and r
                )
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
    finally:
        api.close()
    lines = [json.loads(line) for line in (tmp_path / "engines.log").read_text().splitlines()]
    about = [line for line in lines if line.get("run_id") == run["id"]]
    assert {line["sync_id"] for line in about} == {run["sync_id"]}
    messages = [line["message"] for line in about]
    assert "run prepared: 5 changes in 1 batches" in messages
    [ended] = [line for line in about if line["message"] == "run ended: succeeded"]
    assert ended["status"] == "succeeded" and ended["level"] == "info"
    assert ended["logger"] == "syncwright.engine" and ended["time"].endswith("+00:00")


def test_a_wrong_log_format_is_refused_naming_the_variable(tmp_path):
    done = sw(tmp_path, "worker", check=False, env={"SYNCWRIGHT_LOG_FORMAT": "xml"})
    assert done.returncode != 0
    assert "SYNCWRIGHT_LOG_FORMAT" in done.stderr and "text, json" in done.stderr


SECRETS_CONFIG = """
sources:   {{shop: {{type: sql, url: "${{SHOP_URL}}"}}}}
models:    {{products: {{source: shop, query: "SELECT * FROM feed", primary_key: id, reference: sku}}}}
destinations:
  api: {{type: http, url: "{api}/items", batch_size: 2, auth: {{type: bearer, token: "${{API_TOKEN}}"}}}}
syncs:
  guarded: {{model: products, destination: api}}
alert_channels:
  hook:  {{type: webhook, url: "{hook}/alerts", secret: "${{HOOK_SECRET}}"}}
  slack: {{type: slack, url: "${{SLACK_URL}}"}}
  mail:  {{type: email, to: [oncall@example.com]}}
alert_rules:
  failing: {{condition: run_failed, sync: guarded, channels: [hook, slack, mail]}}
"""


def test_no_secret_reaches_the_servers_log_or_the_command_line(tmp_path, postgres):
    """A sync from PostgreSQL (a password in its URL) to an API (a bearer token), failing so
    that its alert goes to a signed webhook, a Slack webhook (its path is its secret) and
    e-mail (an SMTP password): every secret is used, and none is in the server's whole log or
    in what any command prints."""
    role = f"shopper_{secrets.token_hex(4)}"
    secret = {
        "database password": f"dbpw{secrets.token_hex(12)}",
        "bearer token": f"bearer{secrets.token_hex(12)}",
        "webhook secret": f"hooksecret{secrets.token_hex(12)}",
        "slack path": f"slackpath{secrets.token_hex(12)}",
        "smtp password": f"smtppw{secrets.token_hex(12)}",
    }
    shop_url = postgres.create_role(role, secret["database password"])
    with psycopg.connect(shop_url, autocommit=True) as db:
        db.execute("CREATE TABLE products (id int PRIMARY KEY, sku text, name text)")
        db.execute(
            "INSERT INTO products SELECT i, 'SKU-' || i, 'item ' || i FROM generate_series(1, 5) i"
        )
        db.execute("CREATE VIEW feed AS SELECT * FROM products")
    api, hook, slack = HttpApi(), HttpApi(), HttpApi()
    # Slack is busy once: the notice is tried again (and the failure logged).
    slack.handler = lambda r: (
        Answer(500, {"error": "busy"}) if len(slack.requests) == 1 else Answer()
    )
    smtp = SmtpServer(login=("alerts", secret["smtp password"]))
    slack_url = f"{slack.url}/services/T01/B02/{secret['slack path']}"
    env = {
        "SHOP_URL": shop_url,
        "API_TOKEN": secret["bearer token"],
        "HOOK_SECRET": secret["webhook secret"],
        "SLACK_URL": slack_url,
        "SYNCWRIGHT_SMTP_HOST": "127.0.0.1",
        "SYNCWRIGHT_SMTP_PORT": str(smtp.port),
        "SYNCWRIGHT_SMTP_USER": "alerts",
        "SYNCWRIGHT_SMTP_PASSWORD": secret["smtp password"],
        "SYNCWRIGHT_SMTP_FROM": "syncwright@example.com",
        "SYNCWRIGHT_ALERT_INTERVAL": "0.2",
        "SYNCWRIGHT_ALERT_RETRY_DELAY": "0.05",
    }
    printed: list[str] = []

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = sw(tmp_path, *args, check=check, env=env)
        printed.append(f"$ syncwright {' '.join(args)}\n{done.stdout}{done.stderr}")
        return done

    def runs() -> list[dict]:
        return json.loads(cli("runs", "--sync", "guarded", "--json").stdout)

    try:
        (tmp_path / "sw.yml").write_text(SECRETS_CONFIG.format(api=api.url, hook=hook.url))
        cli("apply", "-f", "sw.yml")
        cli("check", "-f", "sw.yml")
        cli("check", "shop", "api")
        server = start_engine(tmp_path, **env)
        try:
            cli("run", "guarded")
            wait_for(lambda: [r["status"] for r in runs()] == ["succeeded"], timeout=120)
            assert api.requests and all(
                r.headers["authorization"] == f"Bearer {secret['bearer token']}"
                for r in api.requests
            )
            assert len(api.sent_items()) == 5

            # The source fails: the alert goes out on every channel.
            with psycopg.connect(shop_url, autocommit=True) as db:
                db.execute("DROP VIEW feed")
            cli("run", "guarded", check=False)
            wait_for(lambda: runs()[0]["status"] == "failed", timeout=120)

            def delivered() -> dict | None:
                found = json.loads(cli("alerts", "--json", check=False).stdout)
                notices = found[0]["notices"] if found else []
                return (
                    found[0]
                    if {(n["channel"], n["status"]) for n in notices}
                    == {(c, "delivered") for c in ("hook", "slack", "mail")}
                    else None
                )

            alert = wait_for(delivered, timeout=120)
            assert alert["state"] == "open" and "feed" in alert["summary"]
            [notice] = hook.requests
            assert notice.headers["x-syncwright-signature"] == signature(
                secret["webhook secret"], notice.headers["x-syncwright-timestamp"], notice.raw
            )
            assert [r.path for r in slack.requests] == [
                f"/services/T01/B02/{secret['slack path']}"
            ] * 2
            assert len(smtp.messages) == 1 and smtp.refused == 0

            # The database now refuses the password: the connection check and the next run
            # say so.
            with psycopg.connect(postgres.url(role), autocommit=True) as db:
                db.execute(f"ALTER ROLE \"{role}\" PASSWORD '{secrets.token_hex(8)}'")
                db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE usename = %s AND pid <> pg_backend_pid()",
                    (role,),
                )
            assert "password authentication failed" in cli("check", "shop", check=False).stdout
            cli("run", "guarded", check=False)
            wait_for(lambda: [r["status"] for r in runs()][:2] == ["failed", "failed"], timeout=120)
            for args in (
                ("runs",),
                ("report",),
                ("report", "--json"),
                ("alerts",),
                ("schedule",),
                ("dry-run", "guarded"),
                ("apply", "-f", "sw.yml", "--dry-run"),
            ):
                cli(*args, check=False)
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=60) == 0
    finally:
        for each in (api, hook, slack):
            each.close()
        smtp.close()
    log = (tmp_path / "engines.log").read_text()
    # The log is the real thing: it tells the runs, the alert and the notice that failed once.
    assert "run ended: failed" in log and "alert failing fired for sync guarded" in log
    assert "alert notice to slack failed (attempt 1): HTTP 500" in log
    outputs = "\n".join(printed)
    assert "password authentication failed" in outputs and "delivered" in outputs
    for kind, value in secret.items():
        assert value not in log, f"the {kind} is in the server's log"
        assert value not in outputs, f"the {kind} is in a command's output"
    # Nor a line per outbound request (per batch, per notice).
    assert "HTTP Request:" not in log
