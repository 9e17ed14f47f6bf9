"""What each provider was found to support, and which models were used when.

Revision ID: 0003_provider_facts_model_usage
Revises: 0002_conversation_summary
Create Date: 2026-12-04

``provider_facts`` keeps what a probe (``tui-chat doctor``) or a turn learned about a server,
e.g. that it has no ``/responses``, so the next start routes right without asking again.
``model_usage`` orders the model picker: recently used models first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_provider_facts_model_usage"
down_revision: str | None = "0002_conversation_summary"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "provider_facts",
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )
    op.create_table(
        "model_usage",
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("provider", "model"),
    )
    op.create_index("ix_model_usage_recent", "model_usage", ["last_used_at"])


def downgrade() -> None:
    op.drop_index("ix_model_usage_recent", table_name="model_usage")
    op.drop_table("model_usage")
    op.drop_table("provider_facts")
