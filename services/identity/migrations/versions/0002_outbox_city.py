"""The outbox's city column, so the relay can take pending events city by city.

Rows written before it get the empty city, which the relay sends like any other.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.add_column(sa.Column("city", sa.String(length=60), nullable=False, server_default=""))
    # The default only fills the rows already there; the code gives every new row its city.
    with op.batch_alter_table("outbox") as outbox:
        outbox.alter_column("city", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_column("city")
