"""The command groups that talk to the API, listed once: ``campaign`` adds them, the tests run each verb."""
from campaign import (
    assessment_commands,
    audit_commands,
    dead_letter_commands,
    notification_commands,
    registration_commands,
    reporting_commands,
)

API_COMMANDS = (
    registration_commands.rollout,
    registration_commands.participants,
    assessment_commands.assessment,
    notification_commands.notifications,
    reporting_commands.reporting,
    audit_commands.audit,
    dead_letter_commands.dead_letters,
)
