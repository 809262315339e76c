"""Phrasings proposed for FAQ entries: a question a shopper confirmed an entry answered ("Did
that help? yes" after picking a suggestion), kept for staff to approve or reject.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_phrasings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "text"),
    )
    op.create_index("ix_faq_phrasings_status", "faq_phrasings", ["status"])


def downgrade() -> None:
    op.drop_index("ix_faq_phrasings_status", table_name="faq_phrasings")
    op.drop_table("faq_phrasings")
