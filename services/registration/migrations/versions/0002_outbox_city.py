"""The outbox's city column, so the relay can take pending events city by city.

Rows written before it get the empty city, which the relay sends like any other.

Revision ID: 0002
Revises: 0001
"""
from shared.migration_steps import add_outbox_city, drop_outbox_city

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_city()


def downgrade() -> None:
    drop_outbox_city()
