"""Alembic environment of the identity database: its models and the shared tables.

Run through shared.migrations (`campaign db upgrade identity`), which hands it the database.
"""
from alembic import context

from services.identity.models import Base
from shared.migrations import run_environment

run_environment(context, Base.metadata)
