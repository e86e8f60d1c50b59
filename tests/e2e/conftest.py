"""Browser tests: a real ``luotsi serve`` process driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from luotsi.demo import DEMO_PASSWORD
from tests.billing.subscription.stripe_side import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    running_localstripe,
)
from tests.clock import luotsi_command
from tests.s3 import S3Server

S3_PREFIX = "e2e"  # where the S3 live server keeps its files in the bucket
# A request answered with an error, a line logged as an error, a traceback's lines.
WORTH_REPORTING = re.compile(r"status=[45]\d\d|\[(error|critical)|Traceback|^\s+File |^\w+Error")
SERVER_LOGS: list[Path] = []  # the logs of this process's live servers, for failure reports

ROOT = Path(__file__).resolve().parents[2]
DEMO_OWNER = "omistaja@demo.luotsi.localhost"
DEMO_OPERATOR = "tuki@luotsi.localhost"  # a platform operator, with the demo's password
CHROMIUM = os.environ.get("LUOTSI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(var_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real server in embedded mode (SQLite, in-process worker, dev mailbox on, demo firm)
    with its files in ``var_dir`` and ``env`` over the defaults; yields its address."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (see .ci/run)")
    port = _free_port()
    env = {
        **os.environ,
        "LUOTSI_VAR_DIR": str(var_dir),
        "LUOTSI_DATABASE_URL": f"sqlite:///{var_dir / 'luotsi.db'}",
        "LUOTSI_DEBUG": "1",
        "LUOTSI_PORT": str(port),
        "LUOTSI_BASE_URL": f"http://127.0.0.1:{port}",
        "LUOTSI_ARGON2_TIME_COST": "1",
        "LUOTSI_ARGON2_MEMORY_KIB": "8192",
        **(env or {}),
    }
    luotsi = luotsi_command()  # `luotsi`, on the suite's day
    subprocess.run([*luotsi, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*luotsi, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [*luotsi, "create-operator", "--email", DEMO_OPERATOR, "--name", "Tuula Tuki"],
        input=DEMO_PASSWORD + "\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    log = (var_dir / "server.log").open("w")
    SERVER_LOGS.append(var_dir / "server.log")
    server = subprocess.Popen(
        [*luotsi, "serve"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((var_dir / "server.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """A failed browser test's report carries what its servers logged of requests answered
    with an error (4xx, 5xx) and of failures: what the browser saw, from the server's side."""
    report = yield
    if report.failed and call.when == "call":
        for path in SERVER_LOGS:
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            wanted = [line for line in lines if WORTH_REPORTING.search(line)]
            if wanted:
                report.sections.append((f"server log {path.parent.name}", "\n".join(wanted[-40:])))
    return report


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server most browser tests use: Stripe off, so every firm is on the unlimited plan."""
    with serving(tmp_path_factory.mktemp("e2e")) as base:
        yield base


@pytest.fixture(scope="session")
def stripe_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of its own with subscriptions on, talking to a localstripe of its own: the
    owner's subscription page takes the card with localstripe's Stripe.js mock."""
    folder = tmp_path_factory.mktemp("stripe-e2e")
    with running_localstripe(folder) as localstripe:
        env = {
            "LUOTSI_STRIPE_SECRET_KEY": SECRET_KEY,
            "LUOTSI_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LUOTSI_STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "LUOTSI_STRIPE_API_BASE": localstripe.base,
        }
        with serving(folder, env) as base:
            yield base


@pytest.fixture(scope="session")
def s3_live_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[str]:
    """A server of its own keeping its files on the S3-compatible server (prefix ``e2e``)."""
    with serving(tmp_path_factory.mktemp("s3-e2e"), s3_server.env(S3_PREFIX)) as base:
        yield base


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def live_database_url(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The live server's SQLite database (sync URL), for arranging what the UI cannot make yet."""
    found = sorted(
        tmp_path_factory.getbasetemp().glob("e2e*/luotsi.db"), key=lambda p: p.stat().st_mtime
    )
    assert found, "the live server's database was not found"
    return f"sqlite:///{found[-1]}"


def sign_in(page: Page, base: str, email: str = DEMO_OWNER) -> None:
    """Sign in to the demo through the login form, in English, and wait until it is done."""
    page.goto(base + "/login")
    page.get_by_role("button", name="EN").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").last.click()
    page.wait_for_url(lambda url: "/login" not in url)
