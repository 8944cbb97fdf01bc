"""Retention purges: each rollout whose committee's names and addresses were dropped.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that create_all made from these models is adopted at an older revision yet has it already.
    if "retention_purges" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "retention_purges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
    )
    op.create_index("ix_retention_purges_rollout_id", "retention_purges", ["rollout_id"])


def downgrade() -> None:
    op.drop_table("retention_purges")
