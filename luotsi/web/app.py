"""The one Litestar app: ``create_app()`` wires settings, database, templates and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from advanced_alchemy.extensions.litestar.plugins.init.config.asyncio import (
    autocommit_handler_maker,
)
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.htmx import HTMXPlugin

from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.errorreports import init_error_reports
from luotsi.platform.identity import configure_password_hashing
from luotsi.platform.logs import configure_logging
from luotsi.platform.mail import Mailer
from luotsi.platform.settings import Settings, load_settings
from luotsi.platform.sharedstate import open_shared_state
from luotsi.platform.storage import make_file_store
from luotsi.platform.twofactor import configure_two_factor_keys
from luotsi.platform.worker import run_worker
from luotsi.web import pages
from luotsi.web.account import AccountController
from luotsi.web.agreements.acceptance import AcceptanceController
from luotsi.web.agreements.agreements import AgreementsController
from luotsi.web.api import BEARER, SCHEMA_PATH, api_router
from luotsi.web.assets import static_file
from luotsi.web.auth import AuthController
from luotsi.web.billing.cards import CardPaymentController, stripe_connect_return
from luotsi.web.billing.invoices import InvoicesController
from luotsi.web.billing.payments import PaymentsController
from luotsi.web.billing.runs import RunsController
from luotsi.web.billing.settings import BillingSettingsController
from luotsi.web.billing.summary import SummaryController
from luotsi.web.billing.webhook import stripe_webhook
from luotsi.web.clients.clients import ClientsController
from luotsi.web.content.retention import RetentionController
from luotsi.web.content.supervisee import SuperviseeContentController
from luotsi.web.csrf import csrf_middleware
from luotsi.web.directory.areas import AreasController
from luotsi.web.directory.hours import FirmHoursController, WorkingHoursController
from luotsi.web.directory.inquiries import InquiriesController, InquiryFormController
from luotsi.web.directory.public import DirectoryController, FirmProfileController
from luotsi.web.directory.staff import SpecialtiesController, StaffController
from luotsi.web.errors import EXCEPTION_HANDLERS
from luotsi.web.firm.api_tokens import ApiTokensController
from luotsi.web.firm.audit import AuditController
from luotsi.web.firm.closure import ClosureController, privacy
from luotsi.web.firm.dashboard import dashboard, dismiss_setup
from luotsi.web.firm.exports import ExportsController
from luotsi.web.firm.members import JoinController, MembersController
from luotsi.web.firm.notifications import NotificationsController, ReminderHoursController
from luotsi.web.firm.reports import ReportsController
from luotsi.web.firm.search import search
from luotsi.web.firm.settings import FirmDetailsController, settings_hub
from luotsi.web.firm.subscription import SubscriptionController
from luotsi.web.firm.webhooks import WebhooksController
from luotsi.web.middleware import compression_middleware, response_headers, visitor_middleware
from luotsi.web.observability import healthz, metrics, observe_requests, readyz
from luotsi.web.operator.firms import OperatorController
from luotsi.web.portal.hr import PortalController
from luotsi.web.portal.supervisee import SuperviseePortalController
from luotsi.web.public import public_router
from luotsi.web.reauth import ReauthController, ReauthenticationRequired, to_confirmation
from luotsi.web.sessions.calendar import CalendarController, FeedController
from luotsi.web.sessions.sessions import SessionsController
from luotsi.web.signup import SignupController
from luotsi.web.templating import template_config
from luotsi.web.twofactor import (
    SignInSecurityController,
    TwoFactorController,
    TwoFactorSignInController,
)
from luotsi.web.workspace import workspace_router


def api_document() -> OpenAPIConfig:
    """The OpenAPI document of ``/api/v1``, as JSON at ``/api/v1/schema`` (and its
    ``openapi.json``): no documentation site, whose scripts would come from a CDN."""
    return OpenAPIConfig(
        title="Luotsi API",
        version="1",
        description="Client organisations, people, agreements, sessions and invoices of one "
        "firm, for its integrations. See docs/api.md.",
        path=SCHEMA_PATH,
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API token of the firm: luotsi_<firm id>_<secret>.",
                )
            }
        ),
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    configure_logging(settings)
    init_error_reports(settings)
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    if settings.master_keys:  # without them the app refuses to start outside the tests
        configure_two_factor_keys(settings.content_keys)

    engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_dependency_key="db",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        create_all=False,
    )
    # Commit on 2xx and on redirects (POST, then redirect). The handler must look for the
    # session under this config's key: advanced-alchemy renames keys when a process builds
    # more than one app (the tests do).
    db_config.before_send_handler = autocommit_handler_maker(
        commit_on_redirect=True, session_scope_key=db_config.session_scope_key
    )
    maker = make_sessionmaker(engine)
    mailer = Mailer(settings)
    files = make_file_store(settings)
    shared = open_shared_state(settings)

    @asynccontextmanager
    async def shared_state_lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await shared.close()

    @asynccontextmanager
    async def worker_lifespan(app: Litestar) -> AsyncIterator[None]:
        if not settings.worker_in_process:
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(maker, settings, stop=stop))
        try:
            yield
        finally:
            stop.set()
            await task

    # The owner's subscription page, like the webhook, exists only with Stripe keys.
    subscription = [SubscriptionController] if settings.subscriptions_enabled else []
    handlers: list[Any] = [
        healthz,
        readyz,
        pages.home,
        pages.favicon,
        AuthController,
        TwoFactorController,
        TwoFactorSignInController,
        AccountController,
        ReauthController,
        SignupController,
        JoinController,
        workspace_router(
            [
                dashboard,
                dismiss_setup,
                search,
                settings_hub,
                FirmDetailsController,
                ClosureController,
                privacy,
                *subscription,
                MembersController,
                AreasController,
                StaffController,
                WorkingHoursController,
                FirmHoursController,
                SpecialtiesController,
                FirmProfileController,
                InquiriesController,
                ClientsController,
                PortalController,
                SuperviseePortalController,
                SuperviseeContentController,
                AgreementsController,
                SessionsController,
                CalendarController,
                AuditController,
                ApiTokensController,
                ExportsController,
                ReportsController,
                RetentionController,
                NotificationsController,
                ReminderHoursController,
                WebhooksController,
                SignInSecurityController,
                BillingSettingsController,
                InvoicesController,
                RunsController,
                PaymentsController,
                SummaryController,
            ]
        ),
        AcceptanceController,
        FeedController,
        OperatorController,
        public_router([DirectoryController, InquiryFormController]),
        api_router(),
        static_file,
    ]
    if settings.subscriptions_enabled:
        handlers.append(stripe_webhook)  # exempt from CSRF by its own opt, no other POST is
    if settings.card_payments_enabled:
        handlers += [stripe_connect_return, CardPaymentController]
    if settings.metrics_token:  # without a token there is no /metrics (404)
        handlers.append(metrics)
    if settings.debug:
        handlers += [pages.dev_mailbox, pages.dev_mail]

    app = Litestar(
        route_handlers=handlers,
        plugins=[SQLAlchemyPlugin(config=db_config), HTMXPlugin()],
        # CSRF after the visitor: control characters in a form are refused before it is read.
        middleware=[compression_middleware, visitor_middleware, csrf_middleware(settings)],
        dependencies={"files": Provide(lambda: files, sync_to_thread=False)},
        template_config=template_config(),
        exception_handlers={**EXCEPTION_HANDLERS, ReauthenticationRequired: to_confirmation},
        logging_config=None,  # luotsi.platform.logs configures logging, Litestar's too
        before_send=[response_headers],
        state=State(
            {
                "settings": settings,
                "luotsi_db_config": db_config,
                "sessionmaker": maker,
                "mailer": mailer,
                "shared_state": shared,
            }
        ),
        lifespan=[shared_state_lifespan, worker_lifespan],
        # The API's document (its routes alone: the pages are left out of the schema here,
        # the API's router puts its own back in).
        openapi_config=api_document(),
        include_in_schema=False,
        debug=False,
    )
    # Around everything Litestar does, unknown routes and error pages included.
    app.asgi_handler = observe_requests(app.asgi_handler)
    return app
