"""Settings read once from ``LUOTSI_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import make_url

from luotsi.platform.crypto import MasterKeys


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Plans:
    """What firms pay for Luotsi: a trial, then a price per active supervisor (a seat)."""

    trial_days: int = 30
    monthly_seat_cents: int = 2900  # per active supervisor and month, VAT excluded
    yearly_seat_cents: int = 29000  # per active supervisor and year (two months free)
    # Days a canceled workspace stays writable before it turns read-only for staff.
    grace_days: int = 14


@dataclass(frozen=True)
class Retention:
    """How long operational rows and the audit log are kept; the retention jobs prune older ones.

    Expired sign-in sessions go at once. Rate-limit events (sign-in attempts among them) are
    kept at least two days whatever is set, longer than any limit's window.
    """

    sent_mail_days: int = 30  # delivered outbox rows (recipient and subject only)
    rate_event_days: int = 30  # sign-in attempts and other counted events
    # The audit log (``audit_retention`` job): on PostgreSQL whole months go once all of the
    # month is older than this, so a row may stay up to a month longer.
    audit_days: int = 1095
    webhook_days: int = 30  # the delivery log of the firms' webhooks (``webhook_retention``)
    # A firm its owner closed stays, read-only, for this many days; then its data is erased.
    closure_grace_days: int = 30
    # Issued invoices (and their lines, payments and reminders) of a closed firm are kept this
    # many years after the end of the financial year they belong to (the Accounting Act).
    bookkeeping_years: int = 10


@dataclass(frozen=True)
class WorkerTuning:
    """How the worker paces itself (the defaults suit production)."""

    poll_seconds: float = 2.0  # the wait when nothing was due
    # How long a claimed job or e-mail stays one worker's before another may take it over
    # (after a crash): longer than the slowest job chunk or batch of e-mails.
    lease_seconds: int = 600


class KeysMissing(RuntimeError):
    """The app would run without the keys every node must share: it refuses to start."""


# What an operator is told when ``luotsi serve`` or ``luotsi worker`` refuses to start.
KEYS_MISSING = (
    "{names} not configured. Outside the embedded mode (SQLite with LUOTSI_DEBUG) every app "
    "node and worker must hold the same keys, or content written by one becomes unreadable on "
    "another or after a restart, so Luotsi does not generate them. Run `luotsi keys generate` "
    "once, keep its output safe, and give both lines to every node's environment."
)
# URLs whose password is hidden when the settings are shown.
_URL_FIELDS = {"database_url", "app_database_url", "redis_url"}


@dataclass(frozen=True, repr=False)
class Settings:
    var_dir: Path = Path("var")
    database_url: str = ""
    app_database_url: str = ""
    app_db_role: str = "luotsi_app"
    app_db_password: str = field(default="", repr=False)
    debug: bool = False
    secret_key: str = field(default="", repr=False)
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    mail_from: str = "Luotsi <no-reply@luotsi.localhost>"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    run_worker_in_process: bool | None = None
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    log_level: str = "INFO"
    # "json" (one JSON object a line) or "console" (for people); empty: console in debug only.
    log_format: str = ""
    # The bearer token of GET /metrics (Prometheus); empty: no /metrics at all (404).
    metrics_token: str = field(default="", repr=False)
    # Where errors are reported (Sentry); empty: nowhere but the log. Holds Sentry's key.
    sentry_dsn: str = field(default="", repr=False)
    # Seconds `luotsi serve` gives requests in flight to finish after SIGTERM.
    shutdown_timeout: int = 30
    # Addresses (or CIDR networks) of the proxies in front of the app whose X-Forwarded-For
    # and X-Forwarded-Proto are believed (uvicorn's forwarded_allow_ips); empty: none.
    trusted_proxies: str = ""
    # The database URLs lead to PgBouncer in transaction pooling mode: no prepared statement
    # is reused across transactions (see :func:`luotsi.platform.db.make_engine`).
    pgbouncer: bool = False
    # Sign-in sessions and rate-limit counters in this Redis (redis://[:password@]host:port/db)
    # instead of the database; the same for every node. Shown without its password.
    redis_url: str = ""
    # The start of every key Luotsi writes in Redis, so that deployments may share a server.
    redis_prefix: str = "luotsi:"
    # Versioned master keys for content at rest ("1:<base64>,2:<base64>"); never shown.
    master_keys: str = field(default="", repr=False)
    # Stripe: the firm's own subscription to Luotsi and card payment of client invoices. Without
    # a secret key subscriptions are off and every firm is on the unlimited plan.
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_publishable_key: str = ""
    stripe_api_base: str = ""  # another Stripe API address (localstripe in tests)
    stripe_connect_client_id: str = ""  # Connect (standard accounts) for card payments
    # The signing secret of the Connect endpoint (connected accounts' events) on the same URL.
    stripe_connect_webhook_secret: str = field(default="", repr=False)
    # Where files are kept (luotsi.platform.storage): "s3://bucket/prefix", "file:///path" or
    # empty for the folder "files" in var_dir. The S3 settings below apply to s3:// only;
    # without keys, the usual AWS_* variables or the instance's role are used.
    storage_url: str = ""
    s3_endpoint: str = ""  # another S3-compatible server, e.g. http://127.0.0.1:9000
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = field(default="", repr=False)
    # Outgoing webhooks: endpoints on loopback or private addresses are refused unless this is
    # on (the tests' local receiver); an extra CA file to trust for their TLS (empty: the
    # system's trust store).
    webhooks_allow_loopback: bool = False
    webhooks_ca_file: str = ""
    # Calls one API token may make in a minute; more are answered 429 with Retry-After.
    api_requests_per_minute: int = 120
    # A sign-in session ends after this long without a request, and at the latest this long
    # after the sign-in (LUOTSI_SESSION_IDLE_MINUTES, LUOTSI_SESSION_LIFETIME_HOURS).
    session_idle_minutes: int = 30
    session_lifetime_hours: int = 12
    plans: Plans = field(default_factory=lambda: Plans())
    retention: Retention = field(default_factory=lambda: Retention())
    worker: WorkerTuning = field(default_factory=lambda: WorkerTuning())

    def __repr__(self) -> str:
        """Every setting but the secrets; a database URL without its password."""
        shown = []
        for item in fields(self):
            if not item.repr:
                continue
            value = getattr(self, item.name)
            if item.name in _URL_FIELDS and value:
                value = make_url(value).render_as_string(hide_password=True)
            shown.append(f"{item.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def require_keys(self) -> None:
        """Raise :class:`KeysMissing` unless the secret key and the master keys are set."""
        names = [
            name
            for name, value in (
                ("LUOTSI_SECRET_KEY", self.secret_key),
                ("LUOTSI_MASTER_KEYS", self.master_keys),
            )
            if not value
        ]
        if names:
            verb = "is" if len(names) == 1 else "are"
            raise KeysMissing(KEYS_MISSING.format(names=f"{' and '.join(names)} {verb}"))

    @property
    def subscriptions_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def card_payments_enabled(self) -> bool:
        """Firms may connect their own Stripe accounts (Connect) for card payments."""
        return bool(self.stripe_secret_key and self.stripe_connect_client_id)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def owner_database_url(self) -> str:
        """The URL migrations run with: the schema owner."""
        return self.database_url

    @cached_property
    def runtime_database_url(self) -> str:
        """The URL the app connects with.

        On PostgreSQL that is a role that owns nothing and has no BYPASSRLS, so row-level
        security applies to every query the app makes.
        """
        if not self.is_postgres:
            return self.database_url
        if self.app_database_url:
            return _async_url(self.app_database_url)
        url = make_url(self.database_url).set(
            username=self.app_db_role, password=self.app_db_password or None
        )
        return url.render_as_string(hide_password=False)

    @cached_property
    def content_keys(self) -> MasterKeys:
        """The master keys that encrypt content; the highest version is current."""
        return MasterKeys.parse(self.master_keys)

    @property
    def log_json(self) -> bool:
        """Whether log lines are JSON: always outside debug, unless ``log_format`` says."""
        if self.log_format:
            return self.log_format == "json"
        return not self.debug

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def worker_in_process(self) -> bool:
        if self.run_worker_in_process is not None:
            return self.run_worker_in_process
        return not self.is_postgres


def _async_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url


def _secret_key(var_dir: Path, configured: str, embedded: bool) -> str:
    """The configured key; in the embedded mode one generated once into ``var/secret_key``
    (never committed). Elsewhere an unset key stays empty and the app refuses to start."""
    if configured or not embedded:
        return configured
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _master_keys(var_dir: Path, configured: str, embedded: bool) -> str:
    """The configured master keys; in the embedded mode version 1 generated once into
    ``var/master_keys``.

    The file is created 0600 (never committed, never logged). Any other deployment sets
    ``LUOTSI_MASTER_KEYS`` (every node must hold the same keys): unset, it stays empty and the
    app refuses to start rather than fork the keys per node.
    """
    if configured:
        MasterKeys.parse(configured)  # fail at start-up, not at the first note
    if configured or not embedded:
        return configured
    path = var_dir / "master_keys"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # Written whole into a private temporary file, then linked into place: a process
        # starting at the same moment sees either no file or a complete one.
        temporary = var_dir / f".master_keys.{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"1:{MasterKeys.new_key()}\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    value = path.read_text().strip()
    MasterKeys.parse(value)
    return value


def _log_format(value: str) -> str:
    value = value.strip().lower()
    if value not in {"", "json", "console"}:
        raise ValueError("LUOTSI_LOG_FORMAT is json or console")
    return value


def _sentry_dsn(value: str) -> str:
    """The DSN, checked at start-up; the message never repeats it (it holds Sentry's key)."""
    if value:
        from sentry_sdk.utils import BadDsn, Dsn

        try:
            Dsn(value)
        except BadDsn:
            raise ValueError("LUOTSI_SENTRY_DSN is not a Sentry DSN") from None
    return value


def _storage_url(value: str) -> str:
    """The storage URL, checked at start-up: a misspelt scheme must not fall back to disk."""
    if value and not value.startswith(("s3://", "file:///")):
        raise ValueError("LUOTSI_STORAGE_URL is s3://bucket/prefix or file:///absolute/path")
    if value.startswith("s3://") and not value.removeprefix("s3://").split("/")[0]:
        raise ValueError("LUOTSI_STORAGE_URL names no bucket")
    return value


def load_settings(environ: dict[str, str] | None = None, env_file: str | Path = ".env") -> Settings:
    """Read ``LUOTSI_*`` variables; a ``.env`` file fills in what the environment lacks."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).exists():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def get(name: str, default: str = "") -> str:
        return values.get(f"LUOTSI_{name}", default)

    var_dir = Path(get("VAR_DIR", "var"))
    database_url = _async_url(get("DATABASE_URL", f"sqlite:///{var_dir / 'luotsi.db'}"))
    worker = get("WORKER_IN_PROCESS")
    debug = _flag(get("DEBUG"))
    # SQLite in debug: one machine, keys generated into var/ (what `make run` uses).
    embedded = debug and not database_url.startswith("postgresql")
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        app_database_url=get("APP_DATABASE_URL"),
        app_db_role=get("APP_DB_ROLE", "luotsi_app"),
        app_db_password=get("APP_DB_PASSWORD"),
        debug=debug,
        secret_key=_secret_key(var_dir, get("SECRET_KEY"), embedded),
        base_url=get("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        host=get("HOST", "127.0.0.1"),
        port=int(get("PORT", "8000")),
        mail_from=get("MAIL_FROM", "Luotsi <no-reply@luotsi.localhost>"),
        smtp_host=get("SMTP_HOST"),
        smtp_port=int(get("SMTP_PORT", "25")),
        smtp_user=get("SMTP_USER"),
        smtp_password=get("SMTP_PASSWORD"),
        smtp_starttls=_flag(get("SMTP_STARTTLS")),
        run_worker_in_process=_flag(worker) if worker else None,
        argon2_time_cost=int(get("ARGON2_TIME_COST", "3")),
        argon2_memory_kib=int(get("ARGON2_MEMORY_KIB", "65536")),
        log_level=get("LOG_LEVEL", "INFO"),
        log_format=_log_format(get("LOG_FORMAT")),
        metrics_token=get("METRICS_TOKEN"),
        sentry_dsn=_sentry_dsn(get("SENTRY_DSN")),
        shutdown_timeout=int(get("SHUTDOWN_TIMEOUT", "30")),
        trusted_proxies=get("TRUSTED_PROXIES"),
        pgbouncer=_flag(get("PGBOUNCER")),
        redis_url=get("REDIS_URL"),
        redis_prefix=get("REDIS_PREFIX", "luotsi:"),
        master_keys=_master_keys(var_dir, get("MASTER_KEYS"), embedded),
        stripe_secret_key=get("STRIPE_SECRET_KEY"),
        stripe_webhook_secret=get("STRIPE_WEBHOOK_SECRET"),
        stripe_publishable_key=get("STRIPE_PUBLISHABLE_KEY"),
        stripe_api_base=get("STRIPE_API_BASE").rstrip("/"),
        stripe_connect_client_id=get("STRIPE_CONNECT_CLIENT_ID"),
        stripe_connect_webhook_secret=get("STRIPE_CONNECT_WEBHOOK_SECRET"),
        storage_url=_storage_url(get("STORAGE_URL")),
        s3_endpoint=get("S3_ENDPOINT").rstrip("/"),
        s3_region=get("S3_REGION", "us-east-1"),
        s3_access_key_id=get("S3_ACCESS_KEY_ID"),
        s3_secret_access_key=get("S3_SECRET_ACCESS_KEY"),
        webhooks_allow_loopback=_flag(get("WEBHOOKS_ALLOW_LOOPBACK")),
        webhooks_ca_file=get("WEBHOOKS_CA_FILE"),
        api_requests_per_minute=int(get("API_REQUESTS_PER_MINUTE", "120")),
        session_idle_minutes=int(get("SESSION_IDLE_MINUTES", "30")),
        session_lifetime_hours=int(get("SESSION_LIFETIME_HOURS", "12")),
        plans=Plans(
            trial_days=int(get("PLAN_TRIAL_DAYS", "30")),
            monthly_seat_cents=int(get("PLAN_MONTHLY_SEAT_CENTS", "2900")),
            yearly_seat_cents=int(get("PLAN_YEARLY_SEAT_CENTS", "29000")),
            grace_days=int(get("PLAN_GRACE_DAYS", "14")),
        ),
        retention=Retention(
            sent_mail_days=int(get("RETENTION_SENT_MAIL_DAYS", "30")),
            rate_event_days=int(get("RETENTION_RATE_EVENT_DAYS", "30")),
            audit_days=int(get("AUDIT_RETENTION_DAYS", "1095")),
            webhook_days=int(get("RETENTION_WEBHOOK_DAYS", "30")),
            closure_grace_days=int(get("CLOSURE_GRACE_DAYS", "30")),
            bookkeeping_years=int(get("BOOKKEEPING_YEARS", "10")),
        ),
        worker=WorkerTuning(
            poll_seconds=float(get("WORKER_POLL_SECONDS", "2")),
            lease_seconds=int(get("WORKER_LEASE_SECONDS", "600")),
        ),
    )
