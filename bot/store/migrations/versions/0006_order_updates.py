"""Proactive order updates: subscriptions, one row per update, and what the demo shop's
shipments say about delivery (out for delivery, the reason for a delay).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("out_for_delivery_at", sa.DateTime(), nullable=True))
    op.add_column("shipments", sa.Column("delay_reason", sa.String(length=200), nullable=True))
    op.create_table(
        "order_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_order_subscriptions_conversation_id", "order_subscriptions", ["conversation_id"]
    )
    op.create_index("ix_order_subscriptions_order_number", "order_subscriptions", ["order_number"])
    op.create_table(
        "order_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["order_subscriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "event"),
    )
    op.create_index("ix_order_updates_subscription_id", "order_updates", ["subscription_id"])
    op.create_index("ix_order_updates_status", "order_updates", ["status"])


def downgrade() -> None:
    op.drop_table("order_updates")
    op.drop_table("order_subscriptions")
    op.drop_column("shipments", "delay_reason")
    op.drop_column("shipments", "out_for_delivery_at")
