"""Alembic environment of the assessment database: its models and the shared tables.

Run through shared.migrations (`campaign db upgrade assessment`), which hands it the database.
"""
from alembic import context

from services.assessment.models import Base
from shared.migrations import run_environment

run_environment(context, Base.metadata)
