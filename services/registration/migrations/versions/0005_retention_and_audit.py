"""Retention and the audit of personal data: when a rollout completed and was purged, and
who listed, showed or exported its participants.

Rollouts completed before this revision have no ``completed_at``: their retention counts
from their last day (``ends_on``).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that create_all made from these models is adopted at an older revision yet has them already.
    table = sa.inspect(op.get_bind())
    columns = {c["name"] for c in table.get_columns("rollouts")}
    with op.batch_alter_table("rollouts") as rollouts:
        for name in ("completed_at", "purged_at"):
            if name not in columns:
                rollouts.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    if "personal_data_audit" in table.get_table_names():
        return
    op.create_table(
        "personal_data_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
    )
    op.create_index("ix_personal_data_audit_at", "personal_data_audit", ["at"])
    op.create_index("ix_personal_data_audit_rollout_id", "personal_data_audit", ["rollout_id"])
    op.create_index("ix_personal_data_audit_city", "personal_data_audit", ["city"])


def downgrade() -> None:
    op.drop_table("personal_data_audit")
    with op.batch_alter_table("rollouts") as rollouts:
        rollouts.drop_column("purged_at")
        rollouts.drop_column("completed_at")
