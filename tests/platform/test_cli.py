"""The ``luotsi`` commands, run as a person would run them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from luotsi.platform.crypto import MasterKeys
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.tenancy import Role
from luotsi.tenants.content import Reader, write_note
from tests.backends import settings_env
from tests.clock import luotsi_command
from tests.factories import (
    add_agreement,
    add_client_org,
    add_member,
    add_session,
    make_firm,
    make_user,
)
from tests.platform.test_settings import SECRETS, secret_of


def luotsi(
    var_dir: Path,
    *args: str,
    stdin: str = "",
    extra: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        luotsi_command(*args),
        env=environment(var_dir, extra, unset),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def environment(
    var_dir: Path, extra: dict[str, str] | None = None, unset: tuple[str, ...] = ()
) -> dict[str, str]:
    """A person's shell: the test settings (keys given, SQLite, no debug), changed."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LUOTSI_")},
        **settings_env(var_dir, f"sqlite:///{var_dir / 'luotsi.db'}"),
        **(extra or {}),
    }
    for name in unset:
        env.pop(name)
    return env


# The embedded mode: SQLite in debug, no keys configured (what `make run` uses).
EMBEDDED = {"extra": {"LUOTSI_DEBUG": "1"}, "unset": ("LUOTSI_SECRET_KEY", "LUOTSI_MASTER_KEYS")}


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def test_db_upgrade_demo_is_idempotent(var_dir: Path) -> None:
    assert luotsi(var_dir, "db", "upgrade").returncode == 0
    first = luotsi(var_dir, "demo")
    assert first.returncode == 0 and "created" in first.stdout
    second = luotsi(var_dir, "demo")
    assert second.returncode == 0 and "already" in second.stdout


def test_the_embedded_mode_generates_its_keys_once_into_var(var_dir: Path) -> None:
    assert luotsi(var_dir, "db", "upgrade", **EMBEDDED).returncode == 0  # type: ignore[arg-type]
    key_file, master_file = var_dir / "secret_key", var_dir / "master_keys"
    assert key_file.exists() and len(key_file.read_text()) >= 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(master_file.stat().st_mode & 0o777) == "0o600"
    before = key_file.read_text(), master_file.read_text()
    demo = luotsi(var_dir, "demo", **EMBEDDED)  # type: ignore[arg-type]
    assert demo.returncode == 0, demo.stderr
    assert (key_file.read_text(), master_file.read_text()) == before


KEYS = ("LUOTSI_SECRET_KEY", "LUOTSI_MASTER_KEYS")
POSTGRES_IN_DEBUG = {
    "LUOTSI_DEBUG": "1",
    "LUOTSI_DATABASE_URL": "postgresql://luotsi@127.0.0.1:1/none",
}


@pytest.mark.parametrize(
    ("command", "extra", "unset"),
    [
        ("serve", {}, KEYS),
        ("worker", {}, KEYS),
        ("serve", POSTGRES_IN_DEBUG, KEYS[1:]),
        ("worker", POSTGRES_IN_DEBUG, KEYS[:1]),
    ],
    ids=["serve-sqlite", "worker-sqlite", "serve-postgresql-debug", "worker-postgresql-debug"],
)
def test_serve_and_worker_refuse_to_start_without_the_shared_keys(
    var_dir: Path, command: str, extra: dict[str, str], unset: tuple[str, ...]
) -> None:
    refused = luotsi(var_dir, command, extra=extra, unset=unset)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    message = refused.stderr.strip()
    assert "\n\n" not in message and "luotsi keys generate" in message
    for name in KEYS:
        assert (name in message) == (name in unset)
    assert not (var_dir / "master_keys").exists() and not (var_dir / "secret_key").exists()


def test_generated_keys_start_the_app(var_dir: Path) -> None:
    generated = luotsi(var_dir, "keys", "generate", unset=KEYS)
    assert generated.returncode == 0, generated.stderr
    lines = dict(line.split("=", 1) for line in generated.stdout.split())
    assert lines.keys() == set(KEYS)
    assert MasterKeys.parse(lines["LUOTSI_MASTER_KEYS"]).versions == [1]
    assert len(lines["LUOTSI_SECRET_KEY"]) >= 32
    assert luotsi(var_dir, "keys", "generate").stdout != generated.stdout  # fresh every time
    assert luotsi(var_dir, "db", "upgrade", extra=lines).returncode == 0
    demo = luotsi(var_dir, "demo", extra=lines)
    assert demo.returncode == 0, demo.stderr
    assert not (var_dir / "master_keys").exists() and not (var_dir / "secret_key").exists()


def test_keys_generate_names_the_version_of_a_rotation(var_dir: Path) -> None:
    second = luotsi(var_dir, "keys", "generate", "--key-version", "2")
    line = next(line for line in second.stdout.split() if line.startswith("LUOTSI_MASTER_KEYS="))
    assert MasterKeys.parse(line.split("=", 1)[1]).versions == [2]
    assert luotsi(var_dir, "keys", "generate", "--key-version", "0").returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], command: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            luotsi_command(command),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready`` (every 0.1 s, for at most 30 s) while ``process`` runs."""
    for _ in range(300):
        if ready():
            return
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(log.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_start_up_logs_show_no_secret(var_dir: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = environment(
        var_dir,
        {
            **SECRETS,
            "LUOTSI_LOG_LEVEL": "DEBUG",
            "LUOTSI_PORT": str(port),
            "LUOTSI_SMTP_HOST": "127.0.0.1",
            "LUOTSI_SMTP_USER": "luotsi",
            "LUOTSI_WORKER_IN_PROCESS": "1",
            "PYTHONUNBUFFERED": "1",
        },
    )
    assert luotsi(var_dir, "db", "upgrade", extra=env).returncode == 0
    server_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    server = _start(env, "serve", server_log)
    try:
        _wait_for(answers, server, server_log)
    finally:
        _stop(server)
    worker = _start(env, "worker", worker_log)
    try:
        _wait_for(lambda: "worker.started" in worker_log.read_text(), worker, worker_log)
    finally:
        _stop(worker)
    logs = server_log.read_text() + worker_log.read_text()
    assert "Luotsi is serving" in logs and logs.count("worker.started") == 2
    for name in SECRETS:
        assert secret_of(name) not in logs, name


def _server_processes(pid: int) -> list[int]:
    """The processes ``pid`` started with multiprocessing (not its resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def test_serve_with_several_workers_runs_them_without_the_in_process_worker(
    var_dir: Path, tmp_path: Path
) -> None:
    # SQLite: the in-process worker's default is on, and with several processes it is off.
    port = _free_port()
    env = environment(
        var_dir,
        {"LUOTSI_LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"},
        unset=("LUOTSI_WORKER_IN_PROCESS",),
    )
    assert luotsi(var_dir, "db", "upgrade", extra=env).returncode == 0
    log = tmp_path / "serve.log"

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "luotsi.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(answers, server, log)
        _wait_for(lambda: len(_server_processes(server.pid)) >= 2, server, log)
        processes = _server_processes(server.pid)
    finally:
        _stop(server)
    shown = log.read_text()
    assert "server processes: 2" in shown and "worker: separate, run `luotsi worker`" in shown
    assert len(processes) == 2, shown
    assert "worker.started" not in shown  # tests/platform: the in-process worker logs it


def test_serve_with_several_workers_refuses_an_in_process_worker(var_dir: Path) -> None:
    refused = luotsi(var_dir, "serve", "--workers", "2", extra={"LUOTSI_WORKER_IN_PROCESS": "1"})
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "run `luotsi worker` beside the servers" in refused.stderr


def test_serve_with_several_workers_refuses_to_start_without_the_shared_keys(
    var_dir: Path,
) -> None:
    refused = luotsi(var_dir, "serve", "--workers", "2", unset=KEYS)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "luotsi keys generate" in refused.stderr


def test_create_operator(var_dir: Path) -> None:
    luotsi(var_dir, "db", "upgrade")
    weak = luotsi(
        var_dir,
        "create-operator",
        "--email",
        "ops@luotsi.example",
        "--name",
        "Ops",
        stdin="short\n",
    )
    assert weak.returncode != 0 and "10" in weak.stderr
    common = luotsi(
        var_dir,
        "create-operator",
        "--email",
        "ops@luotsi.example",
        "--name",
        "Ops",
        stdin="qwertyuiop\n",
    )
    assert common.returncode != 0
    ok = luotsi(
        var_dir,
        "create-operator",
        "--email",
        "ops@luotsi.example",
        "--name",
        "Ops",
        stdin="a long operator password\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "ops@luotsi.example" in ok.stdout


KEY1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY2 = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="


async def _write_notes(var_dir: Path, texts: list[str]) -> None:
    """A firm, a supervisor's session and notes on it, encrypted with key version 1."""
    engine = make_engine(f"sqlite+aiosqlite:///{var_dir / 'luotsi.db'}")
    try:
        tenant = await make_firm(engine, "alfa", "Alfa Työnohjaus Oy", "0737546-2")
        user = await make_user(engine, "ohjaaja@alfa.example", "Olli Ohjaaja")
        supervisor = await add_member(engine, tenant, user, Role.SUPERVISOR)
        org = await add_client_org(engine, tenant)
        agreement = await add_agreement(engine, tenant, org, supervisor, [])
        session = await add_session(engine, tenant, agreement, supervisor)
        async with make_sessionmaker(engine)() as db, db.begin():
            db.info[TENANT_KEY] = tenant.id
            for body in texts:
                reader = Reader(supervisor, MasterKeys.parse(f"1:{KEY1}"))
                await write_note(db, reader, session.id, body)
    finally:
        await engine.dispose()


def _key_versions(var_dir: Path) -> list[int]:
    with sqlite3.connect(var_dir / "luotsi.db") as conn:
        return [v for (v,) in conn.execute("select key_version from session_notes")]


def test_keys_rotate_reencrypts_with_the_new_version_and_is_idempotent(var_dir: Path) -> None:
    old = {"LUOTSI_MASTER_KEYS": f"1:{KEY1}"}
    both = {"LUOTSI_MASTER_KEYS": f"1:{KEY1},2:{KEY2}"}
    assert luotsi(var_dir, "db", "upgrade", extra=old).returncode == 0
    asyncio.run(_write_notes(var_dir, ["ensimmäinen", "toinen"]))
    assert _key_versions(var_dir) == [1, 1]

    first = luotsi(var_dir, "keys", "rotate", extra=both)
    assert first.returncode == 0, first.stderr
    assert "alfa: 2 re-encrypted" in first.stdout
    assert "Re-encrypted 2 values in 1 firms" in first.stdout and "version 2" in first.stdout
    assert _key_versions(var_dir) == [2, 2]
    assert KEY1 not in first.stdout + first.stderr and KEY2 not in first.stdout + first.stderr

    again = luotsi(var_dir, "keys", "rotate", extra={"LUOTSI_MASTER_KEYS": f"2:{KEY2}"})
    assert again.returncode == 0, again.stderr
    assert "Re-encrypted 0 values" in again.stdout


def test_keys_rotate_without_the_old_version_fails_clearly(var_dir: Path) -> None:
    assert (
        luotsi(var_dir, "db", "upgrade", extra={"LUOTSI_MASTER_KEYS": f"1:{KEY1}"}).returncode == 0
    )
    asyncio.run(_write_notes(var_dir, ["ensimmäinen"]))
    failed = luotsi(var_dir, "keys", "rotate", extra={"LUOTSI_MASTER_KEYS": f"2:{KEY2}"})
    assert failed.returncode != 0
    assert "version 1 is not configured" in failed.stderr
    assert "ensimmäinen" not in failed.stderr + failed.stdout
    assert _key_versions(var_dir) == [1]


def test_the_worker_knows_every_scheduled_job() -> None:
    # A fresh interpreter, as `luotsi worker` starts: only luotsi.models registers the jobs.
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import luotsi.models; from luotsi.platform.jobs import Registry;"
            " print(*sorted(Registry.registered().names))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split() == [
        "audit_retention",
        "content_retention",
        "firm_closures",
        "invoice_runs",
        "operational_retention",
        "payment_reminders",
        "review_reminders",
        "session_reminders",
        "webhook_retention",
    ]
