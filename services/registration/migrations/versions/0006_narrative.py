"""The report's narrative on each rollout and session, and drafts that do not have everything yet.

- ``rollouts``: the narrative (``organisation``, ``issued_on`` and the lists of texts of
  ``shared.events.NarrativeSchema``); ``starts_on``, ``ends_on`` and ``committee_email`` may
  be empty in a draft (a clone for another city starts without them; the launch needs them).
- ``sessions``: ``summary`` (that day's narrative); ``date`` may be empty in a draft;
  ``opened_by`` becomes a text as the events carry it (a string, or one per language), so
  a name already there is kept as a JSON string.

A database that create_all made from these models already has all this when it is adopted:
only what is missing is added or changed.  A downgrade needs every rollout dated and with a
committee address; a name given per language goes back as its Indonesian text.

Revision ID: 0006
Revises: 0005
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TEXTS = ("background", "aims", "expected_learning", "tips", "reporting_institutions", "findings", "qa",
         "recommendations", "follow_up")


def narrative_columns() -> list[sa.Column]:
    return [sa.Column("organisation", sa.String(length=200), nullable=True),
            sa.Column("issued_on", sa.Date(), nullable=True)] + [
        sa.Column(name, sa.JSON(), nullable=True) for name in TEXTS]

SESSIONS = sa.table("sessions", sa.column("id", sa.Integer()), sa.column("opened_by", sa.Text()))


def _rewrite_openers(bind, convert) -> None:
    """Each session's ``opened_by`` as ``convert`` makes it (SQLite keeps both kinds as text)."""
    rows = bind.execute(sa.select(SESSIONS.c.id, SESSIONS.c.opened_by).where(SESSIONS.c.opened_by.isnot(None)))
    for session_id, opened_by in rows.all():
        bind.execute(sa.update(SESSIONS).where(SESSIONS.c.id == session_id).values(opened_by=convert(opened_by)))


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = {column["name"] for column in inspector.get_columns("rollouts")}
    sessions = {column["name"]: column for column in inspector.get_columns("sessions")}
    opener_is_text = not isinstance(sessions["opened_by"]["type"], sa.JSON)
    if opener_is_text and bind.dialect.name == "sqlite":
        _rewrite_openers(bind, json.dumps)
    with op.batch_alter_table("rollouts") as rollouts:
        for column in narrative_columns():
            if column.name not in present:
                rollouts.add_column(column)
        for name in ("starts_on", "ends_on"):
            rollouts.alter_column(name, existing_type=sa.Date(), nullable=True)
        rollouts.alter_column("committee_email", existing_type=sa.String(length=200), nullable=True)
    with op.batch_alter_table("sessions") as altered:
        if "summary" not in sessions:
            altered.add_column(sa.Column("summary", sa.JSON(), nullable=True))
        altered.alter_column("date", existing_type=sa.Date(), nullable=True)
        if opener_is_text:
            altered.alter_column("opened_by", type_=sa.JSON(), existing_type=sa.String(length=200),
                                 postgresql_using="to_json(opened_by)")


def _as_text(stored: str) -> str:
    opener = json.loads(stored)
    return (opener.get("id") or next(iter(opener.values()))) if isinstance(opener, dict) else opener


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("sessions") as altered:
        altered.alter_column("opened_by", type_=sa.Text(), existing_type=sa.JSON(),
                             postgresql_using="opened_by::text")
    _rewrite_openers(bind, lambda stored: _as_text(stored)[:200])
    with op.batch_alter_table("sessions") as altered:
        altered.alter_column("opened_by", type_=sa.String(length=200), existing_type=sa.Text())
        altered.alter_column("date", existing_type=sa.Date(), nullable=False)
        altered.drop_column("summary")
    with op.batch_alter_table("rollouts") as rollouts:
        rollouts.alter_column("committee_email", existing_type=sa.String(length=200), nullable=False)
        for name in ("starts_on", "ends_on"):
            rollouts.alter_column(name, existing_type=sa.Date(), nullable=False)
        for column in reversed(narrative_columns()):
            rollouts.drop_column(column.name)
