"""The root of the suite: container tests run nameko in this process, so eventlet's
green threads must replace the standard library's before anything else imports it."""
import eventlet

# os stays the standard library's: the harness's subprocesses and pipes are read by plain calls,
# and a green os.read left waiting on a descriptor another test closed would block its next user.
eventlet.monkey_patch(os=False)

import os  # noqa: E402

import pytest  # noqa: E402

from tests.support import broker_node  # noqa: E402


def pytest_configure(config):
    # The run's own RabbitMQ node, started by the first test that needs a broker (so unit
    # tests alone start none); CAMPAIGN_TEST_RABBIT names an existing broker to use instead.
    if not os.environ.get("CAMPAIGN_TEST_RABBIT"):
        broker_node.use_own_node()


def pytest_unconfigure(config):
    broker_node.stop_own_node()


def pytest_collection_modifyitems(items):
    for item in items:
        layer = item.path.parent.name
        if layer in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, layer))
