"""Every command infra/ gives the image (the Dockerfile's CMD and HEALTHCHECK, compose's and
Kubernetes' commands) is a valid `luotsi` invocation, and runs as the image would run it."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from tests.backends import TEST_MASTER_KEYS, TEST_SECRET_KEY
from tests.infra.files import final_stage, image_invocations, parse_luotsi

LUOTSI = Path(sys.executable).parent / "luotsi"  # the entry point the image's PATH finds
INVOCATIONS = image_invocations()


def _image_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The image's ENV (Dockerfile), the keys a deployment gives, no LUOTSI_* of this shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUOTSI_")}
    for instruction in final_stage():
        if instruction.keyword == "ENV":
            for pair in instruction.arguments.split():
                name, _, value = pair.partition("=")
                if name.startswith("LUOTSI_"):
                    env[name] = value
    env.update(
        LUOTSI_VAR_DIR=str(tmp_path / "var"),  # /tmp/luotsi in the image
        LUOTSI_SECRET_KEY=TEST_SECRET_KEY,
        LUOTSI_MASTER_KEYS=TEST_MASTER_KEYS,
        **extra,
    )
    return env


def test_every_place_gives_a_command() -> None:
    assert set(INVOCATIONS) == {
        "Dockerfile CMD",
        "compose migrate",
        "compose app",
        "compose worker",
        "k8s luotsi-app/app",
        "k8s luotsi-worker/worker",
        "k8s luotsi-migrate/migrate",
    }


@pytest.mark.parametrize("where", sorted(INVOCATIONS))
def test_every_command_is_a_valid_luotsi_invocation(where: str) -> None:
    program, *arguments = INVOCATIONS[where]
    assert program == "luotsi"
    path, _params = parse_luotsi(arguments)
    assert path in (["serve"], ["worker"], ["db", "upgrade"])


def test_the_servers_run_several_processes_and_the_workers_run_beside_them() -> None:
    for where, words in INVOCATIONS.items():
        path, params = parse_luotsi(words[1:])
        if path == ["serve"]:
            assert params["workers"] >= 2, where  # the in-process worker is then off


@pytest.mark.parametrize(
    "arguments",
    [["serve", "--worker", "2"], ["serve", "--workers", "0"], ["db", "upgrad"], ["db"]],
)
def test_the_invocation_check_refuses_what_luotsi_would_refuse(arguments: list[str]) -> None:
    with pytest.raises(click.ClickException):
        parse_luotsi(arguments)


@pytest.mark.parametrize("words", sorted({tuple(w) for w in INVOCATIONS.values()}))
def test_every_command_answers_help_through_the_entry_point(
    words: tuple[str, ...], tmp_path: Path
) -> None:
    path, _params = parse_luotsi(list(words[1:]))
    shown = subprocess.run(
        [str(LUOTSI), *words[1:], "--help"],
        env=_image_environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"Usage: luotsi {' '.join(path)}" in shown.stdout


def test_the_migration_command_migrates_a_new_database(tmp_path: Path) -> None:
    words = INVOCATIONS["k8s luotsi-migrate/migrate"]
    assert words == INVOCATIONS["compose migrate"]
    migrated = subprocess.run(
        [str(LUOTSI), *words[1:]],
        env=_image_environment(tmp_path, LUOTSI_DATABASE_URL=f"sqlite:///{tmp_path / 'luotsi.db'}"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "Database is at head" in migrated.stdout
    assert (tmp_path / "luotsi.db").stat().st_size > 0


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    _Health.status = 200


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_image_healthcheck_follows_healthz(
    health_server: http.server.HTTPServer, tmp_path: Path, status: int, healthy: bool
) -> None:
    (check,) = [i for i in final_stage() if i.keyword == "HEALTHCHECK"]
    program, *arguments = check.exec_form()
    assert program == "python"
    _Health.status = status
    port = str(health_server.server_address[1])
    ran = subprocess.run(
        [sys.executable, *arguments],
        env=_image_environment(tmp_path, LUOTSI_PORT=port),
        capture_output=True,
        timeout=30,
    )
    assert (ran.returncode == 0) is healthy
