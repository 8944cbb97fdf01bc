"""Reading a whole list of the API as its clients do: page after page, following ``next_cursor``."""

MOST = 1000  # the largest page the API gives


def every_item(get, path, **params):
    """Every item of the list at ``path``; ``get(path, params=...)`` answers a ``requests`` response."""
    found, cursor = [], None
    while True:
        answer = get(path, params={**params, "limit": MOST, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        page = answer.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found
