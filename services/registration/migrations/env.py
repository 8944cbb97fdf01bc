"""Alembic environment of the registration database: its models and the shared tables.

Run through shared.migrations (`campaign db upgrade registration`), which hands it the database.
"""
from alembic import context

from services.registration.models import Base
from shared.migrations import run_environment

run_environment(context, Base.metadata)
