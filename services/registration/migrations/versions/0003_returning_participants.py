"""Returning participants, and one live registration per person and rollout.

The same person may now register in a later rollout of their city, linked to their
earlier record by ``returning_of``; within a rollout a partial unique index keeps
out a second live (not cancelled) registration of the same person key.

Rows written before it keep ``returning_of`` empty: the rules then refused anyone
already registered in the city, so no live earlier record existed to link.  The
index cannot be made while two live registrations of one rollout share a key (only
two requests at the same moment could have written them): cancel one first.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIVE = sa.text("status != 'cancelled'")


def upgrade() -> None:
    # A database that create_all made from these models is adopted at 0002 yet has them already.
    table = sa.inspect(op.get_bind())
    has_column = "returning_of" in {c["name"] for c in table.get_columns("participants")}
    has_index = "uq_participants_live_person" in {i["name"] for i in table.get_indexes("participants")}
    with op.batch_alter_table("participants") as participants:
        if not has_column:
            participants.add_column(sa.Column("returning_of", sa.Integer(), nullable=True))
            participants.create_foreign_key("fk_participants_returning_of", "participants", ["returning_of"], ["id"])
        if not has_index:
            participants.create_index("uq_participants_live_person", ["rollout_id", "person_key"], unique=True,
                                      sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    with op.batch_alter_table("participants") as participants:
        participants.drop_index("uq_participants_live_person")
        participants.drop_constraint("fk_participants_returning_of", type_="foreignkey")
        participants.drop_column("returning_of")
