"""Assessment: its tables and the shared ones, with the outbox as it was before its city column.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from shared.migration_steps import create_shared_tables, drop_shared_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table("action_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=20), nullable=False),
        sa.Column("participant_code", sa.String(length=20), nullable=True),
        sa.Column("group_name", sa.String(length=200), nullable=True),
        sa.Column("commitment", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("follow_ups", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_action_plans_rollout_id", "action_plans", ["rollout_id"])
    op.create_table("instruments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pass_percent", sa.Integer(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rollout_id", "session_key", "version")
    )
    op.create_index("ix_instruments_rollout_id", "instruments", ["rollout_id"])
    op.create_table("participants",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("code")
    )
    op.create_table("session_changes",
        sa.Column("rollout_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "session_key")
    )
    op.create_table("sessions",
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "session_key")
    )
    op.create_table("submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("participant_code", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=4), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("topic_scores", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instrument_id"], ["instruments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instrument_id", "participant_code", "phase")
    )
    op.create_index("ix_submissions_participant_code", "submissions", ["participant_code"])


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("sessions")
    op.drop_table("session_changes")
    op.drop_table("participants")
    op.drop_table("instruments")
    op.drop_table("action_plans")
    drop_shared_tables()
