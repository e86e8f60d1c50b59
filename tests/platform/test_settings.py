"""Settings: secrets never shown, keys generated only in the embedded mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from luotsi.platform.settings import KeysMissing, load_settings
from luotsi.platform.storage import make_file_store
from tests.backends import settings_env

# Every secret setting, each a value the settings' repr could be searched for.
SECRETS = {
    "LUOTSI_SECRET_KEY": "secret-key-marker-5f1c9b2e7d",
    "LUOTSI_MASTER_KEYS": "1:c2VjcmV0LW1hc3Rlci1rZXktbWFya2VyLTMyYnl0ZXM=",
    "LUOTSI_SMTP_PASSWORD": "smtp-password-marker-8a3d",
    "LUOTSI_STRIPE_SECRET_KEY": "sk_test_stripe-secret-marker-1e4b",
    "LUOTSI_STRIPE_WEBHOOK_SECRET": "whsec_webhook-marker-6c2a",
    "LUOTSI_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect-marker-9d7f",
    "LUOTSI_APP_DB_PASSWORD": "app-db-password-marker-3b8e",
    "LUOTSI_METRICS_TOKEN": "metrics-token-marker-2f9c",
    "LUOTSI_S3_SECRET_ACCESS_KEY": "s3-secret-marker-7a5d",
    # Sentry's key is the DSN's user part; nothing listens on the discard port.
    "LUOTSI_SENTRY_DSN": "http://sentry-key-marker-4e1a@127.0.0.1:9/1",
}


def secret_of(name: str) -> str:
    value = SECRETS[name]
    if name == "LUOTSI_MASTER_KEYS":
        return value.split(":", 1)[1]
    if name == "LUOTSI_SENTRY_DSN":
        return value.removeprefix("http://").split("@", 1)[0]
    return value


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_no_secret_shows_in_the_settings_repr(tmp_path: Path, name: str) -> None:
    settings = load_settings({"LUOTSI_VAR_DIR": str(tmp_path), **SECRETS}, env_file="")
    attribute = name.removeprefix("LUOTSI_").lower()
    assert secret_of(name) in getattr(settings, attribute)  # the setting was read
    assert secret_of(name) not in repr(settings)
    assert secret_of(name) not in str(settings)


def test_database_and_redis_passwords_do_not_show_in_the_settings_repr(tmp_path: Path) -> None:
    env = {
        "LUOTSI_VAR_DIR": str(tmp_path),
        "LUOTSI_DATABASE_URL": "postgresql://owner:owner-pw-marker@db.example/luotsi",
        "LUOTSI_APP_DATABASE_URL": "postgresql://app:app-pw-marker@db.example/luotsi",
        "LUOTSI_REDIS_URL": "redis://:redis-pw-marker@cache.example:6379/0",
    }
    settings = load_settings(env, env_file="")
    assert "redis-pw-marker" in settings.redis_url  # the setting was read
    shown = repr(settings)
    assert "owner-pw-marker" not in shown and "app-pw-marker" not in shown
    assert "redis-pw-marker" not in shown
    assert "db.example" in shown and "cache.example" in shown  # the rest is there
    assert "debug=False" in shown


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="sqlite-without-debug"),
        pytest.param(
            {"LUOTSI_DEBUG": "1", "LUOTSI_DATABASE_URL": "postgresql://x@127.0.0.1/x"},
            id="postgresql-in-debug",
        ),
    ],
)
def test_only_the_embedded_mode_generates_keys(tmp_path: Path, env: dict[str, str]) -> None:
    settings = load_settings({"LUOTSI_VAR_DIR": str(tmp_path / "var"), **env}, env_file="")
    assert settings.secret_key == "" and settings.master_keys == ""
    assert not (tmp_path / "var").exists()
    with pytest.raises(KeysMissing, match="LUOTSI_SECRET_KEY and LUOTSI_MASTER_KEYS"):
        settings.require_keys()


def test_the_embedded_mode_has_its_keys(tmp_path: Path) -> None:
    env = {"LUOTSI_VAR_DIR": str(tmp_path / "var"), "LUOTSI_DEBUG": "1"}
    settings = load_settings(env, env_file="")
    settings.require_keys()
    assert load_settings(env, env_file="").secret_key == settings.secret_key


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("LUOTSI_SENTRY_DSN", "not-a-dsn-marker-91ab"),
        ("LUOTSI_LOG_FORMAT", "xml-marker-91ab"),
    ],
)
def test_a_malformed_setting_is_refused_without_repeating_it(
    tmp_path: Path, name: str, given: str
) -> None:
    with pytest.raises(ValueError, match=name) as refused:
        load_settings({"LUOTSI_VAR_DIR": str(tmp_path), name: given}, env_file="")
    assert "marker" not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "json_lines"),
    [
        ({}, True),
        ({"LUOTSI_DEBUG": "1"}, False),
        ({"LUOTSI_DEBUG": "1", "LUOTSI_LOG_FORMAT": "json"}, True),
        ({"LUOTSI_LOG_FORMAT": "console"}, False),
    ],
)
def test_logs_are_json_lines_outside_debug_unless_told(
    tmp_path: Path, env: dict[str, str], json_lines: bool
) -> None:
    settings = load_settings({"LUOTSI_VAR_DIR": str(tmp_path), **env}, env_file="")
    assert settings.log_json is json_lines


def test_the_pgbouncer_switch_is_off_unless_set(tmp_path: Path) -> None:
    base = {"LUOTSI_VAR_DIR": str(tmp_path)}
    assert not load_settings(base, env_file="").pgbouncer
    assert load_settings({**base, "LUOTSI_PGBOUNCER": "1"}, env_file="").pgbouncer


def test_the_local_store_is_the_var_folder_unless_a_url_says(tmp_path: Path) -> None:
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    assert make_file_store(load_settings(env, env_file="")).where == str(tmp_path / "files")
    elsewhere = tmp_path / "elsewhere"
    settings = load_settings({**env, "LUOTSI_STORAGE_URL": f"file://{elsewhere}"}, env_file="")
    assert make_file_store(settings).where == str(elsewhere) and elsewhere.is_dir()
    for wrong in ("s3:/bucket", "/var/files", "s3:///prefix"):
        with pytest.raises(ValueError, match="LUOTSI_STORAGE_URL"):
            load_settings({**env, "LUOTSI_STORAGE_URL": wrong}, env_file="")
