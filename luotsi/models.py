"""Imports every model so the metadata is complete (migrations, tests).

It also imports the modules that register scheduled jobs (``@scheduled``) and outbox kinds
(``@outbox_kind``), so the worker knows them all.
"""

from luotsi.billing import closure, reminders, runs  # noqa: F401  (firm_closures and the rest)
from luotsi.billing.models import (
    BilledItem,
    BillingProfile,
    Delivery,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunOrg,
    Payment,
    Reminder,
)
from luotsi.billing.subscription import sync  # noqa: F401  (the stripe.seats outbox kind)
from luotsi.billing.subscription.models import StripeEvent, Subscription, SubscriptionPayment
from luotsi.platform import retention  # noqa: F401  (the retention jobs)
from luotsi.platform.apitokens import ApiToken
from luotsi.platform.audit import AuditEvent
from luotsi.platform.identity import AuthToken, User, UserSession
from luotsi.platform.jobs import JobSchedule, WorkerHeartbeat
from luotsi.platform.members import Invitation
from luotsi.platform.notifications import Notification, NotificationSettings
from luotsi.platform.operators import OperatorAction
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.ratelimit import RateEvent
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.platform.twofactor import RecoveryCode, TwoFactor
from luotsi.platform.webhooks import WebhookDelivery, WebhookEndpoint

# Modules that register scheduled jobs (review_reminders, session_reminders):
from luotsi.tenants.agreements.models import (
    Acceptance,
    Agreement,
    AgreementDocument,
    AgreementEvent,
    AgreementSupervisee,
    AgreementSupervisor,
    Review,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.content import (
    Assignment,
    AssignmentResponse,
    ConfidentialityLimits,
    ErasureRequest,
    Evaluation,
    Goal,
    SessionNote,
    lifecycle,  # noqa: F401  (content_retention)
)
from luotsi.tenants.directory.models import (
    FirmArea,
    FirmAreaPart,
    FirmProfile,
    Inquiry,
    Municipality,
    Qualification,
    Region,
    ServiceArea,
    Specialty,
    StaffProfile,
    StaffSpecialty,
)
from luotsi.tenants.sessions import calendars  # noqa: F401  (session_reminders)
from luotsi.tenants.sessions.models import CalendarFeed, SessionChange, SupervisionSession

__all__ = [
    "Acceptance",
    "Agreement",
    "AgreementDocument",
    "AgreementEvent",
    "AgreementSupervisee",
    "AgreementSupervisor",
    "ApiToken",
    "Assignment",
    "AssignmentResponse",
    "AuditEvent",
    "AuthToken",
    "BilledItem",
    "BillingProfile",
    "CalendarFeed",
    "ClientOrg",
    "ClientPerson",
    "ConfidentialityLimits",
    "Delivery",
    "ErasureRequest",
    "Evaluation",
    "FirmArea",
    "FirmAreaPart",
    "FirmProfile",
    "Goal",
    "Inquiry",
    "Invitation",
    "Invoice",
    "InvoiceLine",
    "InvoiceRun",
    "InvoiceRunOrg",
    "JobSchedule",
    "Membership",
    "Municipality",
    "Notification",
    "NotificationSettings",
    "OperatorAction",
    "OutboxMessage",
    "Payment",
    "Qualification",
    "RateEvent",
    "RecoveryCode",
    "Region",
    "Reminder",
    "Review",
    "ServiceArea",
    "SessionChange",
    "SessionNote",
    "Specialty",
    "StaffProfile",
    "StaffSpecialty",
    "StripeEvent",
    "Subscription",
    "SubscriptionPayment",
    "SupervisionSession",
    "Tenant",
    "TwoFactor",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerHeartbeat",
]
