"""Unit tests: plain Python over a real SQLite file per test, no broker, no nameko."""
import pytest

from shared.database import Store


@pytest.fixture
def make_store(tmp_path):
    """A fresh Store for a service's models, in this test's own directory."""
    stores = []

    def make(metadata, consumer="unit"):
        store = Store("sqlite:///" + str(tmp_path / f"db{len(stores)}.db"), metadata, consumer=consumer)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.dispose()
