"""subscriptions: the firm's plan and its link to Stripe, payments to Luotsi, Stripe events

``subscriptions`` and ``stripe_events`` are global tables (ids and states, no content: a webhook
reads them before it knows the firm); ``subscription_payments`` is the firm's, under row-level
security.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stripe_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stripe_events_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "subscription_payments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stripe_invoice_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("period_start", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("period_end", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_subscription_payments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_subscription_payments")),
        sa.UniqueConstraint(
            "tenant_id",
            "stripe_invoice_id",
            name=op.f("uq_subscription_payments_tenant_id_stripe_invoice_id"),
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=True),
        sa.Column("connected_account_id", sa.String(length=255), nullable=True),
        sa.Column("connect_charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "unlimited",
                "trialing",
                "active",
                "past_due",
                "canceled",
                name="planstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "interval",
            sa.Enum("month", "year", name="planinterval", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("seat_cents", sa.Integer(), nullable=False),
        sa.Column("trial_ends_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "current_period_end", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("card_brand", sa.String(length=20), nullable=False),
        sa.Column("card_last4", sa.String(length=4), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_subscriptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "connected_account_id", name=op.f("uq_subscriptions_connected_account_id")
        ),
        sa.UniqueConstraint("customer_id", name=op.f("uq_subscriptions_customer_id")),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_subscriptions_stripe_subscription_id")
        ),
    )
    enable_tenant_rls("subscription_payments")


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_table("subscription_payments")
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_events_tenant_id"))

    op.drop_table("stripe_events")
