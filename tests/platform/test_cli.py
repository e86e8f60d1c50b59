"""The ``luotsi`` commands, run as a person would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends import settings_env


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
