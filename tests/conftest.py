import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        layer = item.path.parent.name
        if layer in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, layer))
