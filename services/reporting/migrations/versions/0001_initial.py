"""Reporting: its tables and the shared ones, with the outbox as it was before its city column.

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
        sa.Column("action_plan_id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("owner", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("action_plan_id")
    )
    op.create_index("ix_action_plans_city", "action_plans", ["city"])
    op.create_index("ix_action_plans_rollout_id", "action_plans", ["rollout_id"])
    op.create_table("attendance",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", "day")
    )
    op.create_index("ix_attendance_city", "attendance", ["city"])
    op.create_index("ix_attendance_rollout_id", "attendance", ["rollout_id"])
    op.create_table("city_changes",
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("city")
    )
    op.create_table("event_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id")
    )
    op.create_index("ix_event_log_city", "event_log", ["city"])
    op.create_table("notifications",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("participant_count", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id")
    )
    op.create_index("ix_notifications_rollout_id", "notifications", ["rollout_id"])
    op.create_table("participants",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=True),
        sa.Column("minor", sa.Boolean(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("age_band", sa.String(length=10), nullable=True),
        sa.Column("category_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waitlisted", sa.Boolean(), nullable=False),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("participant_id")
    )
    op.create_index("ix_participants_city", "participants", ["city"])
    op.create_index("ix_participants_counted", "participants", ["counted"])
    op.create_index("ix_participants_rollout_id", "participants", ["rollout_id"])
    op.create_table("rollouts",
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("city_name", sa.String(length=100), nullable=True),
        sa.Column("province", sa.String(length=100), nullable=True),
        sa.Column("program", sa.String(length=200), nullable=True),
        sa.Column("venue", sa.String(length=200), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("editor", sa.String(length=200), nullable=True),
        sa.Column("sessions", sa.JSON(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id")
    )
    op.create_index("ix_rollouts_city", "rollouts", ["city"])
    op.create_table("score_pairs",
        sa.Column("participant_code", sa.String(length=20), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("pre_submission_id", sa.Integer(), nullable=True),
        sa.Column("pre_score", sa.Integer(), nullable=True),
        sa.Column("pre_max_score", sa.Integer(), nullable=True),
        sa.Column("pre_passed", sa.Boolean(), nullable=True),
        sa.Column("post_submission_id", sa.Integer(), nullable=True),
        sa.Column("post_score", sa.Integer(), nullable=True),
        sa.Column("post_max_score", sa.Integer(), nullable=True),
        sa.Column("post_passed", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("participant_code", "session_key")
    )
    op.create_index("ix_score_pairs_city", "score_pairs", ["city"])
    op.create_index("ix_score_pairs_rollout_id", "score_pairs", ["rollout_id"])
    op.create_table("scores",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("participant_code", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=4), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("submission_id")
    )
    op.create_index("ix_scores_city", "scores", ["city"])
    op.create_index("ix_scores_rollout_id", "scores", ["rollout_id"])
    op.create_table("session_gains",
        sa.Column("rollout_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("session_key", sa.String(length=50), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "session_key")
    )
    op.create_index("ix_session_gains_city", "session_gains", ["city"])
    op.create_table("topic_scores",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("phase", sa.String(length=4), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("submission_id", "topic")
    )
    op.create_table("topic_totals",
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("phase", sa.String(length=4), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "topic", "phase")
    )


def downgrade() -> None:
    op.drop_table("topic_totals")
    op.drop_table("topic_scores")
    op.drop_table("session_gains")
    op.drop_table("scores")
    op.drop_table("score_pairs")
    op.drop_table("rollouts")
    op.drop_table("participants")
    op.drop_table("notifications")
    op.drop_table("event_log")
    op.drop_table("city_changes")
    op.drop_table("attendance")
    op.drop_table("action_plans")
    drop_shared_tables()
