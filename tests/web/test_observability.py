"""What operations sees: request ids, the access log, probes and Prometheus metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from litestar import Litestar
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from luotsi.platform import clock
from luotsi.platform.db import make_sessionmaker, unscoped_session
from luotsi.platform.health import NotReady, Probe, forget_readiness_check, readiness_check
from luotsi.platform.jobs import JobSchedule, ensure_schedules, heartbeat
from luotsi.platform.logs import configure_logging
from luotsi.platform.metrics import SCRAPE_COLLECTORS, scrape_collector
from luotsi.platform.migrate import alembic_config, upgrade
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.settings import Settings, load_settings
from luotsi.web.app import create_app
from tests.backends import settings_env
from tests.conftest import BASE_URL, Backend, Client, start_app
from tests.factories import Firms
from tests.platform.test_migrations import unmigrated

__all__ = ["unmigrated"]  # the fixture, imported for the readiness of an old schema

TOKEN = "metrics-token-for-the-tests"
BEARER = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
async def observed_app(backend: Backend) -> AsyncIterator[Litestar]:
    """The app with its access log on (info level) and a metrics token."""
    settings = replace(backend.settings, log_level="INFO", metrics_token=TOKEN)
    application, end = await start_app(settings)
    yield application
    await end()
    configure_logging(backend.settings)  # the suite's level again


@pytest.fixture
def observed(observed_app: Litestar, clean_db: Backend) -> Client:
    return Client(observed_app)


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON log lines written since the last call."""
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def scrape(client: Client) -> dict[str, list[Any]]:
    """Every sample of a scrape, by sample name."""
    response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(
    samples: dict[str, list[Any]], name: str, default: float | None = None, **labels: str
) -> float:
    """The one sample of ``name`` with ``labels`` (``default`` if there is none)."""
    found = [s.value for s in samples.get(name, []) if labels.items() <= s.labels.items()]
    if not found and default is not None:
        return default
    assert len(found) == 1, (name, labels, samples.get(name))
    return float(found[0])


# --- request ids and the access log --------------------------------------------------------


async def test_every_response_carries_a_new_request_id(observed: Client) -> None:
    first, second = await observed.get("/login"), await observed.get("/no/such/page")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1] and all(len(i) == 32 for i in ids)


@pytest.mark.parametrize("given", ["lb-7f3a.42", "0af7651916cd43dd8448eb211c80319c"])
async def test_a_sane_request_id_from_the_proxy_is_kept(observed: Client, given: str) -> None:
    response = await observed.get("/login", headers={"x-request-id": given})
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize("given", [b"a b", b"<script>", b"x" * 65, "é".encode()])
async def test_a_strange_request_id_is_replaced(observed: Client, given: bytes) -> None:
    response = await observed.get("/login", headers={"x-request-id": given})
    assert response.headers["x-request-id"] != given.decode("latin-1")
    assert len(response.headers["x-request-id"]) == 32


async def test_the_access_log_names_the_route_never_the_path(
    observed: Client, firms: Firms, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor = firms.a.supervisor
    await observed.login(supervisor.user.email)
    log_lines(capsys)
    response = await observed.get(f"/t/alfa/clients/{firms.a.org.id}")
    assert response.status_code == 200
    lines = log_lines(capsys)
    access = [line for line in lines if line["event"] == "request"]
    assert len(access) == 1
    assert access[0] | {"duration_ms": None, "timestamp": None} == {
        "event": "request",
        "level": "info",
        "method": "GET",
        "route": "/t/{tenant_slug}/clients/{org_id}",
        "status": 200,
        "duration_ms": None,
        "timestamp": None,
        "request_id": response.headers["x-request-id"],
        "tenant_id": str(firms.a.tenant.id),
        "user_id": str(supervisor.user_id),
    }
    assert access[0]["duration_ms"] >= 0
    text = json.dumps(lines)
    assert str(firms.a.org.id) not in text and supervisor.user.email not in text


async def test_a_refused_request_is_logged_with_its_ids(
    observed: Client, firms: Firms, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refusal (404) in a firm's workspace is logged with the firm and the user too."""
    await observed.login(firms.a.owner.user.email)
    log_lines(capsys)
    missing = await observed.get("/t/alfa/clients/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    (line,) = [line for line in log_lines(capsys) if line["event"] == "request"]
    assert line["request_id"] == missing.headers["x-request-id"]
    assert line["tenant_id"] == str(firms.a.tenant.id)
    assert line["user_id"] == str(firms.a.owner.user_id)
    assert line["status"] == 404


async def test_ids_of_one_request_do_not_leak_into_the_next(
    observed: Client, firms: Firms, capsys: pytest.CaptureFixture[str]
) -> None:
    await observed.login(firms.a.owner.user.email)
    await observed.get("/t/alfa/clients/")
    log_lines(capsys)
    anonymous = Client(observed.app)
    await anonymous.get("/login")
    (line,) = [line for line in log_lines(capsys) if line["event"] == "request"]
    assert "tenant_id" not in line and "user_id" not in line


async def test_probes_are_not_logged_at_info(
    observed: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    log_lines(capsys)
    for path in ("/healthz", "/readyz", "/healthz"):
        assert (await observed.get(path)).status_code == 200
    assert await scrape(observed)
    assert [line for line in log_lines(capsys) if line["event"] == "request"] == []


# --- probes --------------------------------------------------------------------------------


async def test_readyz_answers_every_check_ok_at_head_with_a_worker_heard_of(
    observed: Client, clean_db: Backend
) -> None:
    await heartbeat(make_sessionmaker(clean_db.owner), "worker-1")
    response = await observed.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
    }
    assert response.headers["cache-control"] == "no-store"


async def test_without_a_worker_the_node_serves_degraded(observed: Client) -> None:
    response = await observed.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "migrations": "ok", "worker": "no worker running"},
    }


async def test_a_stale_heartbeat_is_reported(observed: Client, clean_db: Backend) -> None:
    await heartbeat(
        make_sessionmaker(clean_db.owner), "worker-1", clock.now() - timedelta(minutes=5)
    )
    response = await observed.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    reason = response.json()["checks"]["worker"]
    assert reason.startswith("no worker heartbeat for ") and int(reason.split()[-2]) >= 300


async def test_probes_need_no_visitor_session_or_csrf(observed: Client) -> None:
    observed.client.cookies.set("__Host-luotsi_session", "not-a-session")
    response = await observed.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "set-cookie" not in response.headers


async def _get(app: Litestar, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        return await http.get(path)


async def test_healthz_answers_while_the_database_does_not(tmp_path: Path) -> None:
    nowhere = "postgresql://luotsi@127.0.0.1:1/none"
    app = create_app(load_settings(settings_env(tmp_path, nowhere), env_file=""))
    alive = await _get(app, "/healthz")
    assert alive.status_code == 200
    ready = await _get(app, "/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready" and body["checks"]["database"] != "ok"
    assert "127.0.0.1" not in ready.text and "luotsi" not in ready.text  # no host, no user


async def test_readyz_says_the_schema_is_behind(unmigrated: Settings) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    app = create_app(unmigrated)
    before = await _get(app, "/readyz")
    assert before.status_code == 503
    assert before.json()["checks"]["migrations"] == "not migrated"
    await upgrade(unmigrated, previous)
    behind = await _get(app, "/readyz")
    assert behind.status_code == 503
    checks = behind.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["migrations"] == f"database at {previous}, code at {head}"
    await upgrade(unmigrated)
    assert (await _get(app, "/readyz")).status_code == 200


@pytest.fixture
def queue_missing() -> Iterator[None]:
    @readiness_check("queue")
    async def queue_answers(probe: Probe) -> None:
        raise NotReady("no queue")

    yield
    forget_readiness_check("queue")


async def test_a_gating_readiness_check_of_another_module_counts(
    observed: Client, queue_missing: None
) -> None:
    response = await observed.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["queue"] == "no queue"
    assert body["checks"]["database"] == body["checks"]["migrations"] == "ok"


# --- metrics -------------------------------------------------------------------------------


async def test_no_metrics_without_a_token(client: Client) -> None:
    assert (await client.get("/metrics")).status_code == 404
    assert (await client.get("/metrics", headers=BEARER)).status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", TOKEN, f"Basic {TOKEN}"])
async def test_metrics_need_the_bearer_token(observed: Client, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = await observed.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "luotsi_" not in response.text


async def test_requests_are_counted_by_route_template(observed: Client, firms: Firms) -> None:
    await observed.login(firms.a.supervisor.user.email)
    route = "/t/{tenant_slug}/clients/{org_id}"
    counted = {"route": route, "method": "GET", "status": "2xx"}
    start = value(await scrape(observed), "luotsi_http_requests_total", 0, **counted)
    for _ in range(2):
        assert (await observed.get(f"/t/alfa/clients/{firms.a.org.id}")).status_code == 200
    assert (await observed.get("/no/such/page")).status_code == 404
    response = await observed.get("/metrics", headers=BEARER)
    after = await scrape(observed)
    assert value(after, "luotsi_http_requests_total", **counted) == start + 2
    assert value(after, "luotsi_http_request_duration_seconds_count", **counted) >= 2
    unmatched = {"route": "unmatched", "method": "GET", "status": "4xx"}
    assert value(after, "luotsi_http_requests_total", **unmatched) >= 1
    assert str(firms.a.org.id) not in response.text and "/t/alfa" not in response.text


async def test_the_outbox_backlog_and_its_age(observed: Client, clean_db: Backend) -> None:
    now = clock.now()
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db, db.begin():
        for status, age in (("pending", 0), ("pending", 3600), ("failed", 60), ("sent", 90000)):
            db.add(
                OutboxMessage(
                    kind="email",
                    payload={},
                    status=status,
                    created_at=now - timedelta(seconds=age),
                    next_attempt_at=now + timedelta(days=1),
                )
            )
    samples = await scrape(observed)
    assert value(samples, "luotsi_outbox_pending") == 2
    assert value(samples, "luotsi_outbox_failed") == 1
    assert 3600 <= value(samples, "luotsi_outbox_oldest_pending_age_seconds") < 90000
    assert value(samples, "luotsi_scrape_collector_success", collector="outbox") == 1


async def test_an_empty_outbox_has_no_age(observed: Client) -> None:
    samples = await scrape(observed)
    assert value(samples, "luotsi_outbox_pending") == 0
    assert value(samples, "luotsi_outbox_oldest_pending_age_seconds") == 0


async def test_the_database_pool_is_shown(observed: Client) -> None:
    samples = await scrape(observed)
    assert value(samples, "luotsi_db_pool_size") > 0
    assert value(samples, "luotsi_db_pool_checked_out") >= 0


@pytest.fixture
def job_lag_collectors() -> Iterator[None]:
    @scrape_collector("jobs")
    async def job_lag(probe: Probe) -> list[GaugeMetricFamily]:
        lag = GaugeMetricFamily("luotsi_example_lag_seconds", "Lag per job.", labels=["job"])
        lag.add_metric(["session_reminders"], 12.0)
        return [lag]

    @scrape_collector("broken")
    async def broken(probe: Probe) -> list[GaugeMetricFamily]:
        raise RuntimeError("the table is not there")

    yield
    del SCRAPE_COLLECTORS["jobs"], SCRAPE_COLLECTORS["broken"]


async def test_another_module_adds_collectors_and_a_failing_one_is_skipped(
    observed: Client, job_lag_collectors: None
) -> None:
    samples = await scrape(observed)
    assert value(samples, "luotsi_example_lag_seconds", job="session_reminders") == 12
    assert value(samples, "luotsi_scrape_collector_success", collector="jobs") == 1
    assert value(samples, "luotsi_scrape_collector_success", collector="broken") == 0
    assert value(samples, "luotsi_outbox_pending") == 0  # the others still answer


async def test_the_workers_heartbeat_and_each_jobs_lag(
    observed: Client, clean_db: Backend, firms: Firms
) -> None:
    samples = await scrape(observed)
    assert value(samples, "luotsi_worker_heartbeat_age_seconds") == -1  # no worker yet
    maker = make_sessionmaker(clean_db.owner)
    await heartbeat(maker, "node-1", now=clock.now() - timedelta(seconds=90))
    await ensure_schedules(maker)
    async with unscoped_session(maker) as db, db.begin():
        await db.execute(
            update(JobSchedule)
            .where(JobSchedule.job == "session_reminders")
            .values(next_run_at=clock.now() - timedelta(hours=1))
        )
    samples = await scrape(observed)
    assert 90 <= value(samples, "luotsi_worker_heartbeat_age_seconds") < 3600
    assert value(samples, "luotsi_job_lag_seconds", job="session_reminders") >= 3600
    assert value(samples, "luotsi_scrape_collector_success", collector="worker") == 1


# Run in a fresh interpreter: prometheus_client reads PROMETHEUS_MULTIPROC_DIR when imported.
SERVE_AND_SCRAPE = """
import asyncio, sys
import httpx
from luotsi.platform.settings import load_settings
from luotsi.web.app import create_app

async def main(requests, scrape):
    app = create_app(load_settings(env_file=""))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        for _ in range(requests):
            assert (await http.get("/healthz")).status_code == 200
        if scrape:
            metrics = await http.get("/metrics", headers={"authorization": sys.argv[3]})
            print(metrics.text)

asyncio.run(main(int(sys.argv[1]), sys.argv[2] == "scrape"))
"""


def test_several_processes_add_up_in_one_scrape(tmp_path: Path) -> None:
    """With prometheus_client's multiprocess directory, a scrape answered by one process
    counts the requests every process served (as with several `luotsi serve` workers)."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LUOTSI_")},
        **settings_env(tmp_path, f"sqlite:///{tmp_path / 'luotsi.db'}"),
        "LUOTSI_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
        "LUOTSI_LOG_LEVEL": "ERROR",  # standard output is the scrape
    }

    def node(requests: int, scrape: bool) -> str:
        args = [str(requests), "scrape" if scrape else "serve", f"Bearer {TOKEN}"]
        done = subprocess.run(
            [sys.executable, "-c", SERVE_AND_SCRAPE, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    node(3, scrape=False)
    scraped = node(2, scrape=True)
    samples = {
        sample.name: sample
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.labels.get("route") == "/healthz"
    }
    assert samples["luotsi_http_requests_total"].value == 5
    assert samples["luotsi_http_request_duration_seconds_count"].value == 5
