"""Run services in this process: all of them, or the ones named."""
import errno
import importlib
import socket

from nameko.exceptions import ConfigurationError
from nameko.runners import ServiceRunner
from nameko.web.server import parse_address

from shared.config import SERVICES
from shared.connect import CannotStart, wait_for_dependencies

SERVICE_CLASSES = {
    "registration": "services.registration.service:RegistrationService",
    "assessment": "services.assessment.service:AssessmentService",
    "notification": "services.notification.service:NotificationService",
    "reporting": "services.reporting.service:ReportingService",
    "identity": "services.identity.service:IdentityService",
    # Reads participant files a city at a time, away from the API (services/registration/import_jobs.py).
    "registration-imports": "services.registration.import_worker:RegistrationImportWorker",
}
# What ``campaign serve`` and ``campaign demo`` run in one process when no service is named.
EVERYTHING = SERVICES + ("registration-imports",)
# A worker that is not a service of its own uses its service's database.
DATABASE_OF = {"registration-imports": "registration"}


def service_class(name):
    module, _, cls = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def start(config: dict, names=EVERYTHING) -> ServiceRunner:
    """A started runner; consumers' queues exist when it returns.

    Raises ``CannotStart`` (one line to show the user) when the web address is
    taken, or the broker or a database does not answer within ``CONNECT_TIMEOUT``.
    """
    # Both checked before nameko starts anything: its consumers would retry a missing broker
    # for ever, a traceback a try, and a taken port fails half-started services, tracebacks and all.
    check_address_free(config["WEB_SERVER_ADDRESS"])
    wait_for_dependencies(config, dict.fromkeys(DATABASE_OF.get(name, name) for name in names))
    runner = ServiceRunner(config)
    for name in names:
        runner.add_service(service_class(name))
    try:
        runner.start()
    except OSError as exc:
        runner.kill()
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):  # taken since the check
            raise address_unusable(config["WEB_SERVER_ADDRESS"], exc) from None
        raise
    return runner


def check_address_free(address: str) -> None:
    """Bind ``address`` as the web server will, and let go of it at once."""
    try:
        host, port = parse_address(address)
    except ConfigurationError:
        raise CannotStart(f"WEB_SERVER_ADDRESS {address!r} is not an address: give [host:]port") from None
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as eventlet.listen does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise address_unusable(address, exc) from None


def address_unusable(address, exc):
    if exc.errno == errno.EADDRINUSE:
        return CannotStart(f"{address} is already in use; set WEB_SERVER_ADDRESS to another address")
    return CannotStart(f"cannot listen on {address} ({exc.strerror or exc}); "
                       "set WEB_SERVER_ADDRESS to another address")
