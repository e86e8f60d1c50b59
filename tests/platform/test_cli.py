"""The ``luotsi`` commands, run as a person would run them."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from luotsi.platform.crypto import MasterKeys
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.tenancy import Role
from luotsi.tenants.content import Reader, write_note
from tests.backends import settings_env
from tests.factories import (
    add_agreement,
    add_client_org,
    add_member,
    add_session,
    make_firm,
    make_user,
)


def luotsi(
    var_dir: Path, *args: str, stdin: str = "", extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **settings_env(var_dir, f"sqlite:///{var_dir / 'luotsi.db'}"),
        **(extra or {}),
    }
    env.pop("LUOTSI_SECRET_KEY")
    return subprocess.run(
        [sys.executable, "-m", "luotsi.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def test_db_upgrade_demo_is_idempotent(var_dir: Path) -> None:
    assert luotsi(var_dir, "db", "upgrade").returncode == 0
    first = luotsi(var_dir, "demo")
    assert first.returncode == 0 and "created" in first.stdout
    second = luotsi(var_dir, "demo")
    assert second.returncode == 0 and "already" in second.stdout


def test_secret_key_is_generated_once_into_var(var_dir: Path) -> None:
    luotsi(var_dir, "db", "upgrade")
    key_file = var_dir / "secret_key"
    assert key_file.exists() and len(key_file.read_text()) >= 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    before = key_file.read_text()
    luotsi(var_dir, "demo")
    assert key_file.read_text() == before


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
            "import luotsi.models; from luotsi.platform.jobs import JOBS; print(*sorted(JOBS))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split() == [
        "content_retention",
        "invoice_runs",
        "payment_reminders",
        "review_reminders",
        "session_reminders",
    ]
