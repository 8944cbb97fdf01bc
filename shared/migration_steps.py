"""The revisions' steps on the tables every service has: the outbox and processed events.

Each service's ``0001`` and ``0002`` revisions call these, so the shared tables are
described once and grow the same way in every database.
"""
import sqlalchemy as sa
from alembic import op


def create_shared_tables() -> None:
    """The outbox and processed events as every service's ``0001`` made them (no city yet)."""
    op.create_table("outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("exchange", sa.String(length=100), nullable=False),
        sa.Column("routing_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id")
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.create_table("processed_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "consumer")
    )


def drop_shared_tables() -> None:
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_table("outbox")


def add_outbox_city() -> None:
    """The outbox's city column, so the relay can take pending events city by city."""
    with op.batch_alter_table("outbox") as outbox:
        outbox.add_column(sa.Column("city", sa.String(length=60), nullable=False, server_default=""))
    # The default only fills the rows already there; the code gives every new row its city.
    with op.batch_alter_table("outbox") as outbox:
        outbox.alter_column("city", server_default=None)


def drop_outbox_city() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_column("city")
