"""The audit of committee changes, and room for sealed webhook secrets.

A webhook secret is now stored sealed (a Fernet token, longer than the secret):
its column becomes TEXT.  A secret stored in the clear before this revision is
sealed by the service when it next starts (services/notification/committees.py).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that create_all made with these models (adopted at an older revision) has the table already.
    if "committee_changes" not in sa.inspect(op.get_bind()).get_table_names():
        _create_committee_changes()
    with op.batch_alter_table("committees") as committees:
        committees.alter_column("webhook_secret", type_=sa.Text(), existing_type=sa.String(length=200))


def _create_committee_changes() -> None:
    op.create_table(
        "committee_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("redirects", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_committee_changes_rollout_id", "committee_changes", ["rollout_id"])


def downgrade() -> None:
    with op.batch_alter_table("committees") as committees:
        committees.alter_column("webhook_secret", type_=sa.String(length=200), existing_type=sa.Text())
    op.drop_index("ix_committee_changes_rollout_id", "committee_changes")
    op.drop_table("committee_changes")
