"""Alembic environment of the reporting database: its models and the shared tables.

Run through shared.migrations (`campaign db upgrade reporting`), which hands it the database.
"""
from alembic import context

from services.reporting.models import Base
from shared.migrations import run_environment

run_environment(context, Base.metadata)
