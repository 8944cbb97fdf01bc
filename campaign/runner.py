"""Run services in this process: all of them, or the ones named."""
import importlib

from nameko.runners import ServiceRunner

from shared.config import SERVICES

SERVICE_CLASSES = {
    "registration": "services.registration.service:RegistrationService",
    "assessment": "services.assessment.service:AssessmentService",
    "notification": "services.notification.service:NotificationService",
    "reporting": "services.reporting.service:ReportingService",
    "identity": "services.identity.service:IdentityService",
}


def service_class(name):
    module, _, cls = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def start(config, names=SERVICES):
    """A started runner; consumers' queues exist when it returns."""
    runner = ServiceRunner(config)
    for name in names:
        runner.add_service(service_class(name))
    runner.start()
    return runner
