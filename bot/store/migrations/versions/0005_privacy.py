"""Hardening and privacy: conversation ids stored hashed, verification failures per order,
and an audit of exports and erasures.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

- A conversation's id is a web shopper's only key to it, so the store keeps its SHA-256
  instead (bot.conversations.stored_id). Existing conversations, their messages and tickets
  are moved to the hashed id, so a widget that still holds its key carries on; Rasa keeps the
  conversation under the new id from its next message (the shopper proves an order again).
- Verification failures gain the order number they were about (the per-order pause). The
  rows there were are dropped rather than rehashed: they counted for half an hour, and their
  sender keys (phone numbers among them) were stored in clear.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CONVERSATION_COLUMNS = (
    "channel, channel_user_id, mode, created_at, updated_at, language, language_source"
)


def upgrade() -> None:
    op.execute("DELETE FROM verification_failures")
    op.add_column(
        "verification_failures", sa.Column("order_number", sa.String(length=20), nullable=True)
    )
    op.create_index(
        "ix_verification_failures_order_number", "verification_failures", ["order_number"]
    )
    op.create_index("ix_verification_failures_failed_at", "verification_failures", ["failed_at"])
    op.create_table(
        "privacy_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_audit_done_at", "privacy_audit", ["done_at"])
    hash_conversation_ids()


def hash_conversation_ids() -> None:
    """Each conversation copied under its hashed id, its messages and tickets moved, the old
    row deleted (an update of the primary key would break the messages' foreign key)."""
    connection = op.get_bind()
    for (old,) in connection.execute(sa.text("SELECT id FROM conversations")).all():
        new = hashlib.sha256(old.encode()).hexdigest()
        values = {"old": old, "new": new}
        connection.execute(
            sa.text(
                f"INSERT INTO conversations (id, {CONVERSATION_COLUMNS}) "
                f"SELECT :new, {CONVERSATION_COLUMNS} FROM conversations WHERE id = :old"
            ),
            values,
        )
        for table in ("messages", "tickets"):
            connection.execute(
                sa.text(f"UPDATE {table} SET conversation_id = :new WHERE conversation_id = :old"),
                values,
            )
        connection.execute(sa.text("DELETE FROM conversations WHERE id = :old"), values)


def downgrade() -> None:
    # The hashed ids cannot be turned back into keys: conversations stay under them.
    op.drop_index("ix_privacy_audit_done_at", table_name="privacy_audit")
    op.drop_table("privacy_audit")
    op.drop_index("ix_verification_failures_failed_at", table_name="verification_failures")
    op.drop_index("ix_verification_failures_order_number", table_name="verification_failures")
    with op.batch_alter_table("verification_failures") as batch:
        batch.drop_column("order_number")
