"""``luotsi`` commands: serve, worker, db, demo, create-operator, keys, billing run."""

from __future__ import annotations

import asyncio
import gc
import getpass
import secrets
import signal
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from luotsi.platform.settings import KeysMissing, Settings, load_settings

if TYPE_CHECKING:
    import uvicorn


def running_settings() -> Settings:
    """The settings of a process that serves or works on the data: it refuses to start (a
    message, no traceback) without the keys every node must share, or with malformed ones."""
    try:
        settings = load_settings()
        settings.require_keys()
    except (KeysMissing, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    return settings


# The app each process of ``luotsi serve --workers N`` builds for itself (uvicorn imports it).
SERVER_PROCESS_APP = "luotsi.cli:server_process_app"


def server_config(
    app: Any, settings: Settings, host: str, port: int, workers: int = 1
) -> uvicorn.Config:
    """How ``luotsi serve`` runs ``app`` (with several ``workers``, an import string of a
    factory): behind trusted proxies, the client's address (and scheme) comes from their
    X-Forwarded-For (-Proto) headers, otherwise from the connection."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # uvicorn's own messages (start, shutdown) through our logging, at our level; our
        # access log (luotsi.web.observability), not uvicorn's.
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        # On SIGTERM: stop accepting, let requests in flight finish for at most this long.
        timeout_graceful_shutdown=settings.shutdown_timeout,
        factory=isinstance(app, str),
        workers=workers,
        proxy_headers=bool(settings.trusted_proxies),
        # Never uvicorn's own default (127.0.0.1, or $FORWARDED_ALLOW_IPS): ours only.
        forwarded_allow_ips=settings.trusted_proxies or "",
    )


def server_process_app() -> Any:
    """The app of one process of ``luotsi serve --workers N``: the same refusal without the
    keys, and never the in-process worker (it would run once per process)."""
    from luotsi.web.app import create_app

    return kept_for_good(create_app(replace(running_settings(), run_worker_in_process=False)))


def kept_for_good(app: Any) -> Any:
    """``app``, with everything made so far (modules, models, routes: a server process's
    lifetime) moved out of the garbage collector's sight. Its full collections then walk the
    requests' objects only: with the 360,000 objects of start-up in them, each stopped every
    request in flight for up to a quarter of a second (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    return app


@click.group()
def main() -> None:
    """Luotsi: practice management for work-supervision firms."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (LUOTSI_HOST).")
@click.option("--port", default=None, type=int, help="Port (LUOTSI_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port. With more than one the worker does not run "
    "in-process: run `luotsi worker` beside them.",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the web server (and, in embedded mode, the worker in the same process)."""
    import uvicorn
    from uvicorn.supervisors.multiprocess import Multiprocess

    from luotsi.web.app import create_app

    settings = running_settings()
    host = host or settings.host
    port = port or settings.port
    if workers > 1 and settings.run_worker_in_process:
        raise click.ClickException(
            f"LUOTSI_WORKER_IN_PROCESS is on, but with --workers {workers} each server process "
            "would run its own worker. Leave it unset and run `luotsi worker` beside the servers."
        )
    in_process = settings.worker_in_process and workers == 1
    app = kept_for_good(create_app(settings)) if workers == 1 else None
    click.echo(
        f"Luotsi is serving on http://{host}:{port}  (database: {_backend(settings)}, "
        f"worker: {'in-process' if in_process else 'separate, run `luotsi worker`'}, "
        f"server processes: {workers})"
    )
    if app is not None:
        uvicorn.Server(server_config(app, settings, host, port)).run()
        return
    config = server_config(SERVER_PROCESS_APP, settings, host, port, workers)
    # What uvicorn.run() does for several workers: the port is bound once, here, and each
    # process (restarted if it dies) accepts on it.
    Multiprocess(config, sockets=[config.bind_socket()]).run()


@main.command()
def worker() -> None:
    """Deliver the outbox (e-mail) and run the scheduled jobs until stopped (SIGTERM).

    Run as many as needed, on any nodes: they share the work through the database.
    """
    import luotsi.models  # noqa: F401  (every model, and the scheduled jobs they register)
    from luotsi.platform.db import make_engine, make_sessionmaker
    from luotsi.platform.errorreports import init_error_reports
    from luotsi.platform.logs import configure_logging
    from luotsi.platform.worker import run_worker

    settings = running_settings()
    configure_logging(settings)
    init_error_reports(settings)

    async def run() -> None:
        engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stop_after_this_work(sig: signal.Signals) -> None:
            # The loop takes no new work and returns once the message or job at hand is done;
            # a second signal ends the process at once (the default action is back).
            stop.set()
            loop.remove_signal_handler(sig)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_after_this_work, sig)
        try:
            await run_worker(make_sessionmaker(engine), settings, stop=stop)
        finally:
            await engine.dispose()

    asyncio.run(run())


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations (and on PostgreSQL set up the app's role)."""
    from luotsi.platform.migrate import upgrade

    settings = load_settings()
    asyncio.run(upgrade(settings, revision))
    click.echo(f"Database is at {revision} ({_backend(settings)}).")


@main.command()
def demo() -> None:
    """Load the demo firm (idempotent)."""
    from luotsi.demo import load_demo

    settings = running_settings()
    created = asyncio.run(load_demo(settings))
    if created:
        click.echo("Demo firm created: sign in as omistaja@demo.luotsi.localhost / demo-salasana")
    else:
        click.echo("Demo firm already present.")


@main.command("create-operator")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
def create_operator(email: str, name: str) -> None:
    """Create a platform operator account (or make an existing account one)."""
    from luotsi.platform.operators import create_operator as create

    password = ""
    if sys.stdin.isatty():
        password = getpass.getpass("Password (empty keeps an existing one): ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    settings = load_settings()
    try:
        asyncio.run(create(settings, email, name, password))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{email} is a platform operator.")


@main.group()
def keys() -> None:
    """Encryption keys of content at rest."""


@keys.command("generate")
@click.option(
    "--key-version",
    type=click.IntRange(1, 0xFFFF),
    default=1,
    show_default=True,
    help="The master key's version: 1 for a new deployment, the next one for a rotation.",
)
def keys_generate(key_version: int) -> None:
    """Print a new master key and a new secret key, as environment lines for every node.

    A new deployment takes both lines. To rotate the master key, generate one with the next
    version, append it to LUOTSI_MASTER_KEYS ("1:...,2:...") on every node and run
    `luotsi keys rotate`. Nothing is written anywhere: keep the output safe.
    """
    from luotsi.platform.crypto import MasterKeys

    click.echo(f"LUOTSI_MASTER_KEYS={key_version}:{MasterKeys.new_key()}")
    click.echo(f"LUOTSI_SECRET_KEY={secrets.token_urlsafe(48)}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt all content with the current (highest) master key version.

    To rotate: add a new, higher version to LUOTSI_MASTER_KEYS (var/master_keys in the
    embedded mode) on every node, run this (a second run re-encrypts nothing), then remove the
    old version.
    """
    import luotsi.models  # noqa: F401  (every model, so the metadata is complete)
    from luotsi.platform.crypto import ContentUnreadable
    from luotsi.platform.db import make_engine, make_sessionmaker
    from luotsi.platform.twofactor import rotate_two_factor_secrets
    from luotsi.tenants.content import rotate_keys_all_tenants

    settings = running_settings()

    async def run() -> None:
        engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
        try:
            maker = make_sessionmaker(engine)
            result = await rotate_keys_all_tenants(maker, settings.content_keys)
            secrets = await rotate_two_factor_secrets(maker, settings.content_keys)
        finally:
            await engine.dispose()
        if secrets:
            click.echo(f"two-factor secrets: {secrets} re-encrypted")
        for slug, count in result.per_tenant.items():
            click.echo(f"{slug}: {count} re-encrypted")
        click.echo(
            f"Re-encrypted {result.reencrypted} values in {result.tenants} firms; every value "
            f"now uses key version {result.key_version}."
        )

    try:
        asyncio.run(run())
    except ContentUnreadable as exc:  # names the row, never the content
        raise click.ClickException(str(exc)) from None


@main.group()
def billing() -> None:
    """Client invoicing."""


@billing.command("run")
@click.option("--period", required=True, help="The month to invoice, e.g. 2026-11.")
@click.option("--firm", "slug", required=True, help="The firm's slug (its address /t/SLUG).")
@click.option("--chunk", default=20, show_default=True, help="Organisations per transaction.")
def billing_run(period: str, slug: str, chunk: int) -> None:
    """Draft the period's invoices of a firm, every organisation with anything to bill."""
    from sqlalchemy import select

    import luotsi.models  # noqa: F401  (every model, so the metadata is complete)
    from luotsi.billing.models import RunStatus
    from luotsi.billing.runs import parse_period, start_run, work_on_run
    from luotsi.platform.db import make_engine, make_sessionmaker, tenant_session, unscoped_session
    from luotsi.platform.errors import Invalid
    from luotsi.platform.tenancy import Tenant

    settings = running_settings()

    async def run() -> None:
        period_start, period_end = parse_period(period)
        engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
        maker = make_sessionmaker(engine)
        try:
            async with unscoped_session(maker) as db:
                tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug))
            if tenant is None:
                raise click.ClickException(f"No firm {slug!r}.")
            async with tenant_session(maker, tenant.id) as db:
                invoice_run = await start_run(db, None, period_start, period_end)
            click.echo(
                f"Invoice run of {period_start.isoformat()}..{period_end.isoformat()} for "
                f"{tenant.name}: {invoice_run.org_total} organisations with something to bill."
            )
            while invoice_run.status is RunStatus.RUNNING:
                done_before = invoice_run.org_done
                async with tenant_session(maker, tenant.id) as db:
                    invoice_run = await work_on_run(db, invoice_run.id, chunk)
                if invoice_run.org_done == done_before:  # a worker holds the rest: wait for it
                    await asyncio.sleep(1)
                click.echo(
                    f"{invoice_run.org_done}/{invoice_run.org_total} organisations, "
                    f"{invoice_run.drafts} drafts"
                )
            if invoice_run.status is RunStatus.FAILED:
                raise click.ClickException(invoice_run.error)
            click.echo(f"Done: {invoice_run.drafts} draft invoices.")
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except Invalid as exc:
        raise click.ClickException(" ".join(exc.errors.values())) from None


def _backend(settings: object) -> str:
    return "PostgreSQL" if getattr(settings, "is_postgres", False) else "SQLite"


if __name__ == "__main__":
    main()
