"""The report's narrative on each rollout, the test's pass mark, and what action plans commit to.

Rows written before it have none: the report says so until an edit or a
rebuild (``campaign reporting rebuild``) brings them from the event log.

A database that create_all made from these models already has the columns when
it is adopted (stamped at 0002, then upgraded through 0003): only the missing ones
are added.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


NEW_COLUMNS = {
    "rollouts": [sa.Column("narrative", sa.JSON(), nullable=True),
                 sa.Column("narrative_at", sa.DateTime(timezone=True), nullable=True),
                 sa.Column("pass_percent", sa.Integer(), nullable=True)],
    "action_plans": [sa.Column("group_name", sa.String(length=200), nullable=True),
                     sa.Column("commitment", sa.Text(), nullable=True)],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in NEW_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [column for column in columns if column.name not in present]
        if missing:
            with op.batch_alter_table(table) as altered:
                for column in missing:
                    altered.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("action_plans") as plans:
        plans.drop_column("commitment")
        plans.drop_column("group_name")
    with op.batch_alter_table("rollouts") as rollouts:
        rollouts.drop_column("pass_percent")
        rollouts.drop_column("narrative_at")
        rollouts.drop_column("narrative")
