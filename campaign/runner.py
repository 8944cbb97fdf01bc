"""Run services in this process: all of them, or the ones named, and stop them in time."""
import errno
import importlib
import logging
import os
import signal
import socket

import eventlet
from eventlet import patcher
from nameko.exceptions import ConfigurationError
from nameko.runners import ServiceRunner
from nameko.web.server import parse_address

from shared.config import SERVICES
from shared.connect import CannotStart, wait_for_dependencies

log = logging.getLogger(__name__)

# A stop (SIGTERM: Kubernetes gives 30 s, the issue 10) is graceful for GRACE_SECONDS: consumers take
# no more, finish or give back what they hold, the outboxes publish their last round.  Then what is
# left is killed (its messages go back to their queues, its transactions roll back), and at
# EXIT_SECONDS the process exits whatever still hangs: a worker stuck in a C call holds nothing up.
GRACE_SECONDS = 8.0
EXIT_SECONDS = 9.5

SERVICE_CLASSES = {
    "registration": "services.registration.service:RegistrationService",
    "assessment": "services.assessment.service:AssessmentService",
    "notification": "services.notification.service:NotificationService",
    "reporting": "services.reporting.service:ReportingService",
    "identity": "services.identity.service:IdentityService",
    # Reads participant files a city at a time, away from the API (services/registration/import_jobs.py).
    "registration-imports": "services.registration.import_worker:RegistrationImportWorker",
    # The web console: pages over the API, no database of its own (services/console/).
    "console": "services.console.service:ConsoleService",
}
# What ``campaign serve`` and ``campaign demo`` run in one process when no service is named.
EVERYTHING = SERVICES + ("registration-imports", "console")
# A worker that is not a service of its own uses its service's database; the console has none.
DATABASE_OF = {"registration-imports": "registration", "console": None}


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
    databases = (DATABASE_OF.get(name, name) for name in names)
    wait_for_dependencies(config, dict.fromkeys(database for database in databases if database))
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


def serve_until_stopped(runner: ServiceRunner) -> None:
    """Run until SIGTERM or SIGINT, then ``stop`` the services."""
    signalled: list[int] = []

    def note(signum, frame):
        signalled.append(signum)

    signal.signal(signal.SIGTERM, note)
    signal.signal(signal.SIGINT, note)
    while not signalled:
        # A signal handler does not wake eventlet's hub: a process with nothing else to do (identity)
        # would only see the signal at its next timer, so the hub is given one.
        eventlet.sleep(0.2)
    stop(runner)


def stop(runner: ServiceRunner, grace: float = GRACE_SECONDS, exit_after: float = EXIT_SECONDS) -> bool:
    """Stop the services gracefully, or kill them after ``grace`` seconds; True if it was graceful.

    If even that hangs, the process ends at ``exit_after`` seconds, from a real thread that no
    green thread can hold up.
    """
    watchdog = patcher.original("threading").Timer(exit_after, _exit_now, args=(exit_after,))
    watchdog.daemon = True
    watchdog.start()
    stopping = eventlet.spawn(runner.stop)
    try:
        with eventlet.Timeout(grace):
            stopping.wait()
        return True
    except eventlet.Timeout:
        log.warning("the services did not stop within %g s; killing what is left "
                    "(messages in hand go back to their queues)", grace)
        runner.kill()
        return False
    finally:
        watchdog.cancel()


def _exit_now(seconds: float) -> None:
    os.write(2, f"campaign: still stopping after {seconds:g} s; exiting now\n".encode())
    os._exit(1)


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
