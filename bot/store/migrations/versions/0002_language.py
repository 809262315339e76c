"""The shopper's language: on each conversation (with what decided it) and on each message.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Nullable columns, so existing rows stay valid: a conversation without a language is read in
the shop's default (SHOP_LANGUAGE), and an old message simply has no language.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("language", sa.String(length=16), nullable=True))
    # What decided it: choice, hint, text or default (bot.language).
    op.add_column(
        "conversations", sa.Column("language_source", sa.String(length=16), nullable=True)
    )
    op.add_column("messages", sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("language_source")
        batch.drop_column("language")
