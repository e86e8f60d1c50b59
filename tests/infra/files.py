"""The files under infra/ as the tests read them: Kubernetes objects, the compose file, the
Dockerfile's instructions, and every ``luotsi`` command they give the image."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from luotsi.cli import main

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
K8S = INFRA / "k8s"
DOCKERFILE = INFRA / "Dockerfile"
COMPOSE = INFRA / "compose.yaml"
KUSTOMIZATION = K8S / "kustomization.yaml"
# The one writable place of the container (tmpfs, emptyDir): a mount point, not a file here.
WRITABLE_DIR = "/tmp"  # noqa: S108


def kubernetes_objects() -> list[tuple[Path, dict[str, Any]]]:
    """Every object of every manifest under infra/k8s (the kustomization is no API object)."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path == KUSTOMIZATION:
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                found.append((path, document))
    return found


def objects_of_kind(kind: str) -> list[dict[str, Any]]:
    return [obj for _path, obj in kubernetes_objects() if obj["kind"] == kind]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    """(workload name, pod spec) of every Deployment and Job."""
    return [
        (obj["metadata"]["name"], obj["spec"]["template"]["spec"])
        for _path, obj in kubernetes_objects()
        if obj["kind"] in {"Deployment", "Job"}
    ]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: str  # the name of the stage it belongs to

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD, ENTRYPOINT or HEALTHCHECK CMD."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1]
        form: list[str] = json.loads(text)
        return form


def dockerfile_instructions(text: str | None = None) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = DOCKERFILE.read_text() if text is None else text
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    instructions = []
    stage = ""
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            stage = words[2] if len(words) > 2 and words[1].upper() == "AS" else words[0]
        instructions.append(Instruction(keyword, arguments.strip(), stage))
    return instructions


def final_stage() -> list[Instruction]:
    """The instructions of the stage the image is (the last one)."""
    instructions = dockerfile_instructions()
    return [i for i in instructions if i.stage == instructions[-1].stage]


def image_entrypoint() -> list[str]:
    entrypoints = [i.exec_form() for i in final_stage() if i.keyword == "ENTRYPOINT"]
    assert entrypoints, "the image has no ENTRYPOINT"
    return entrypoints[-1]


def image_invocations() -> dict[str, list[str]]:
    """Every command line the image is given, by where: the Dockerfile's CMD, each compose
    service's command and each Kubernetes container's command and args (after the image's
    entrypoint, as a container runtime joins them)."""
    entrypoint = image_entrypoint()
    found: dict[str, list[str]] = {}
    for instruction in final_stage():
        if instruction.keyword == "CMD":
            found["Dockerfile CMD"] = [*entrypoint, *instruction.exec_form()]
    for name, service in compose()["services"].items():
        if service.get("image", "").startswith("luotsi") and "command" in service:
            command = service["command"]
            words = shlex.split(command) if isinstance(command, str) else list(command)
            found[f"compose {name}"] = [*entrypoint, *words]
    for workload, spec in pod_specs():
        for container in spec["containers"]:
            words = [*container.get("command", entrypoint), *container.get("args", [])]
            found[f"k8s {workload}/{container['name']}"] = words
    return found


def parse_luotsi(arguments: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The subcommand path and parameters ``luotsi ARGUMENTS`` would run, parsed and checked
    as click checks them (unknown commands and options, values out of range), not run."""
    ctx = main.make_context("luotsi", list(arguments))
    command: click.Command = main
    path: list[str] = []
    while isinstance(command, click.Group):
        protected = getattr(ctx, "_protected_args", None)
        rest = [*(protected if protected is not None else ctx.protected_args), *ctx.args]
        name, found, rest = command.resolve_command(ctx, rest)
        assert name is not None and found is not None
        path.append(name)
        command = found
        ctx = command.make_context(name, rest, parent=ctx)
    return path, ctx.params
