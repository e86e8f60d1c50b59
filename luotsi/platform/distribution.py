"""Where every table goes when Luotsi's PostgreSQL becomes Citus: the one list of the plan.

``docs/scaling.md`` shows it (its tables are rendered from here by :func:`plan_markdown`, and a
test compares them) and ``tests/platform/test_distribution.py`` checks the migrated schema
against it: every distributed table keeps ``tenant_id`` in its primary key, in every unique
rule and in every foreign key to another distributed table, and no key points from a table to
one that Citus could not keep it consistent with.

A new table is placed here in the change that creates it; the test fails until it is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Placement(enum.StrEnum):
    DISTRIBUTED = "distributed"  # sharded by tenant_id, every such table co-located
    REFERENCE = "reference"  # one copy on every node
    COORDINATOR = "coordinator"  # stays a plain table on the coordinator node


DISTRIBUTION_COLUMN = "tenant_id"


@dataclass(frozen=True)
class TablePlan:
    placement: Placement
    why: str = ""


_FIRM_DATA = "a firm's own rows"

# Every firm table (TenantScoped: primary key (tenant_id, id)); all in one co-location group,
# so a firm's rows of every table sit in the same shard and join there.
DISTRIBUTED_TABLES = (
    # platform
    "memberships",
    "invitations",
    "api_tokens",
    "notifications",
    "notification_settings",
    "webhook_endpoints",
    "webhook_deliveries",
    # directory
    "firm_areas",
    "firm_area_parts",
    "firm_profiles",
    "specialties",
    "staff_profiles",
    "staff_specialties",
    "qualifications",
    "service_areas",
    "working_hours",
    "firm_working_hours",
    "absences",
    "inquiries",
    # clients
    "client_orgs",
    "client_people",
    # agreements
    "agreements",
    "agreement_acceptances",
    "agreement_documents",
    "agreement_events",
    "agreement_reviews",
    "agreement_supervisees",
    "agreement_supervisors",
    # sessions
    "supervision_sessions",
    "session_changes",
    "calendar_feeds",
    # content
    "session_notes",
    "assignments",
    "assignment_responses",
    "goals",
    "evaluations",
    "confidentiality_limits",
    "erasure_requests",
    # billing
    "billing_profiles",
    "billed_items",
    "invoice_runs",
    "invoice_run_orgs",
    "invoices",
    "invoice_lines",
    "invoice_deliveries",
    "invoice_reminders",
    "payments",
    "subscription_payments",
)

PLAN: dict[str, TablePlan] = {
    **{name: TablePlan(Placement.DISTRIBUTED, _FIRM_DATA) for name in DISTRIBUTED_TABLES},
    "regions": TablePlan(
        Placement.REFERENCE,
        "Finland's regions, loaded by a migration; joined to firm areas and the directory",
    ),
    "municipalities": TablePlan(
        Placement.REFERENCE,
        "Finland's municipalities, loaded by a migration; referenced by firm areas, service "
        "areas and inquiries",
    ),
    "tenants": TablePlan(
        Placement.REFERENCE,
        "every distributed table's tenant_id references it; a row per firm (thousands), "
        "written at signup and settings changes; looked up by slug on every request",
    ),
    "users": TablePlan(
        Placement.REFERENCE,
        "memberships and invitations reference it (a distributed table may reference a "
        "reference table, not a coordinator table); a sign-in reads it by e-mail; written at "
        "signup and profile or password changes only",
    ),
    "user_sessions": TablePlan(
        Placement.COORDINATOR,
        "a person's sign-ins, not a firm's: written at every sign-in, read by id on every "
        "request; in Redis instead with LUOTSI_REDIS_URL",
    ),
    "two_factor": TablePlan(
        Placement.COORDINATOR,
        "a person's TOTP secret, not a firm's: read by user id at sign-in",
    ),
    "recovery_codes": TablePlan(
        Placement.COORDINATOR,
        "a person's single-use recovery codes (hashed), read by user id at sign-in",
    ),
    "auth_tokens": TablePlan(
        Placement.COORDINATOR,
        "single-use links of a person (verification, reset), looked up by their id alone",
    ),
    "rate_events": TablePlan(
        Placement.COORDINATOR,
        "sign-in limits per address and account, across firms; in Redis instead with "
        "LUOTSI_REDIS_URL",
    ),
    "audit_events": TablePlan(
        Placement.COORDINATOR,
        "platform events have no firm (tenant_id NULL) and the key is (id, at); append-only, "
        "one row per page view, partitioned by month with retention. If it outgrows the "
        "coordinator, the firm's events move to a distributed table with key "
        "(tenant_id, id, at)",
    ),
    "outbox": TablePlan(
        Placement.COORDINATOR,
        "the worker claims due rows of every firm with FOR UPDATE SKIP LOCKED, which Citus "
        "runs on one shard only; platform mail has no firm",
    ),
    "subscriptions": TablePlan(
        Placement.COORDINATOR,
        "one row per firm, found by Stripe's ids (customer, subscription, connected account) "
        "in webhooks: those unique rules hold across firms",
    ),
    "stripe_events": TablePlan(
        Placement.COORDINATOR,
        "Stripe's event ids, each processed once across the platform",
    ),
    "job_schedule": TablePlan(
        Placement.COORDINATOR,
        "workers claim due (job, firm) rows of every firm with FOR UPDATE SKIP LOCKED, as "
        "the outbox; platform jobs have no firm",
    ),
    "operator_actions": TablePlan(
        Placement.COORDINATOR,
        "what Luotsi support did to firms and why (suspensions, plan overrides, trials), read "
        "by the platform console across firms; a few rows per firm",
    ),
    "worker_heartbeats": TablePlan(
        Placement.COORDINATOR, "the running workers, for readiness and metrics"
    ),
    "alembic_version": TablePlan(Placement.COORDINATOR, "the schema's revision"),
}

# Keys Citus keeps: (from placement, to placement). A distributed table may reference another
# distributed table (co-located, through tenant_id) or a reference table; a reference table
# only another reference table; a coordinator table a reference or coordinator table.
ALLOWED_REFERENCES = {
    (Placement.DISTRIBUTED, Placement.DISTRIBUTED),
    (Placement.DISTRIBUTED, Placement.REFERENCE),
    (Placement.REFERENCE, Placement.REFERENCE),
    (Placement.COORDINATOR, Placement.REFERENCE),
    (Placement.COORDINATOR, Placement.COORDINATOR),
}


def tables_placed(placement: Placement) -> list[str]:
    return sorted(name for name, plan in PLAN.items() if plan.placement is placement)


def plan_markdown() -> str:
    """The plan as docs/scaling.md shows it, between its ``distribution plan`` markers."""
    distributed = ", ".join(f"`{name}`" for name in DISTRIBUTED_TABLES)
    lines = [
        f"**Distributed by `{DISTRIBUTION_COLUMN}`, all co-located** "
        f"({len(DISTRIBUTED_TABLES)} tables, in domain order): {distributed}.",
        "",
        "| table | placement | why |",
        "| --- | --- | --- |",
    ]
    for placement in (Placement.REFERENCE, Placement.COORDINATOR):
        for name in tables_placed(placement):
            lines.append(f"| `{name}` | {placement} | {PLAN[name].why} |")
    return "\n".join(lines)
