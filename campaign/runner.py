"""Run services in this process: all four, or the ones named."""
import importlib

from nameko.runners import ServiceRunner

from shared.config import SERVICES

SERVICE_CLASSES = {
    "registration": "services.registration.service:RegistrationService",
    "assessment": "services.assessment.service:AssessmentService",
    "notification": "services.notification.service:NotificationService",
    "reporting": "services.reporting.service:ReportingService",
    # Reads participant files a city at a time, away from the API (services/registration/import_jobs.py).
    "registration-imports": "services.registration.import_worker:RegistrationImportWorker",
}
# What ``campaign serve`` and ``campaign demo`` run in one process when no service is named.
EVERYTHING = SERVICES + ("registration-imports",)


def service_class(name):
    module, _, cls = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def start(config, names=EVERYTHING):
    """A started runner; consumers' queues exist when it returns."""
    runner = ServiceRunner(config)
    for name in names:
        runner.add_service(service_class(name))
    runner.start()
    return runner
