"""infra/compose.yaml: valid against the Compose specification's schema (the copy that the
check-jsonschema package ships: nothing is fetched), and wired as the plan says."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, ValidationError

from tests.infra.files import WRITABLE_DIR, compose

SECRETS = ("LUOTSI_MASTER_KEYS", "LUOTSI_SECRET_KEY", "LUOTSI_APP_DB_PASSWORD")
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z_]+:\?[^}]+\}")


def _schema() -> dict[str, Any]:
    text = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(text.read_text())
    return schema


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    Draft202012Validator(_schema()).validate(compose())


def test_the_compose_check_refuses_a_misspelt_key() -> None:
    broken = compose()
    broken["services"]["app"]["depend_on"] = broken["services"]["app"].pop("depends_on")
    with pytest.raises(ValidationError):
        Draft202012Validator(_schema()).validate(broken)


def test_app_and_worker_start_after_the_migrations_succeeded() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("app", "worker"):
        waits = services[name]["depends_on"]["migrate"]["condition"]
        assert waits == "service_completed_successfully", name


def test_the_app_connects_as_its_own_role_and_never_gets_the_owners_password() -> None:
    services = compose()["services"]
    for name in ("app", "worker"):
        environment = services[name]["environment"]
        assert environment["LUOTSI_APP_DATABASE_URL"].startswith("postgresql://luotsi_app:")
        owner = urlsplit(environment["LUOTSI_DATABASE_URL"])
        assert owner.username == "luotsi" and owner.password is None, name  # no password
        assert "POSTGRES_PASSWORD" not in json.dumps(environment)
    assert "LUOTSI_APP_DB_PASSWORD" in services["migrate"]["environment"]  # creates the role


def test_secrets_come_from_the_environment_never_literal() -> None:
    services = compose()["services"]
    for name in ("app", "worker"):
        environment = services[name]["environment"]
        for secret in SECRETS[:2]:
            assert REQUIRED_VARIABLE.fullmatch(environment[secret]), (name, secret)
        assert REQUIRED_VARIABLE.search(environment["LUOTSI_APP_DATABASE_URL"])
    assert REQUIRED_VARIABLE.fullmatch(services["postgres"]["environment"]["POSTGRES_PASSWORD"])


def test_the_luotsi_containers_run_on_a_read_only_root() -> None:
    for name in ("migrate", "app", "worker"):
        service = compose()["services"][name]
        assert service["read_only"] is True and WRITABLE_DIR in service["tmpfs"], name
        assert service["build"]["dockerfile"] == "infra/Dockerfile", name


def test_migrate_app_and_worker_share_the_files_volume_and_the_storage_settings() -> None:
    services = compose()["services"]
    for name in ("migrate", "app", "worker"):
        service = services[name]
        assert "files:/var/lib/luotsi-files" in service["volumes"], name
        url = service["environment"]["LUOTSI_STORAGE_URL"]
        assert url == "${LUOTSI_STORAGE_URL:-file:///var/lib/luotsi-files}", name
        assert service["environment"]["LUOTSI_S3_SECRET_ACCESS_KEY"].startswith("${"), name
