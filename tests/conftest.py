"""The root of the suite: container tests run nameko in this process, so eventlet's
green threads must replace the standard library's before anything else imports it."""
import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402


def pytest_collection_modifyitems(items):
    for item in items:
        layer = item.path.parent.name
        if layer in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, layer))
