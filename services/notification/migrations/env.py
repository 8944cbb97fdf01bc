"""Alembic environment of the notification database: its models and the shared tables.

Run through shared.migrations (`campaign db upgrade notification`), which hands it the database.
"""
from alembic import context

from services.notification.models import Base
from shared.migrations import run_environment

run_environment(context, Base.metadata)
