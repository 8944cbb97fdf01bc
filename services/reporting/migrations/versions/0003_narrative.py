"""The report's narrative on each rollout, the test's pass mark, and what action plans commit to.

Rows written before it have none: the report says so until an edit or a
rebuild (``campaign reporting rebuild``) brings them from the event log.

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
    with op.batch_alter_table("rollouts") as rollouts:
        rollouts.add_column(sa.Column("narrative", sa.JSON(), nullable=True))
        rollouts.add_column(sa.Column("narrative_at", sa.DateTime(timezone=True), nullable=True))
        rollouts.add_column(sa.Column("pass_percent", sa.Integer(), nullable=True))
    with op.batch_alter_table("action_plans") as plans:
        plans.add_column(sa.Column("group_name", sa.String(length=200), nullable=True))
        plans.add_column(sa.Column("commitment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_plans") as plans:
        plans.drop_column("commitment")
        plans.drop_column("group_name")
    with op.batch_alter_table("rollouts") as rollouts:
        rollouts.drop_column("pass_percent")
        rollouts.drop_column("narrative_at")
        rollouts.drop_column("narrative")
