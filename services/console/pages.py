"""Every page of the console (importing their modules declares their routes), its static files,
and the console made from the configuration."""
from pathlib import Path
from typing import Any

from services.console import committee, dashboard, operations, reports, rollouts, sign_in  # noqa: F401
from services.console.app import Console, Context, Reply, route
from services.console.session import Sessions
from shared.auth import PUBLIC

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png"}


@route("GET", "/static/<name:file>", PUBLIC)
def static_file(ctx: Context, name: str) -> Reply:
    path = STATIC_DIR / name
    media_type = STATIC_TYPES.get(path.suffix)
    if media_type is None or not path.is_file() or path.parent != STATIC_DIR:
        return Reply(404, b"Not found", "text/plain; charset=utf-8")
    return Reply(200, path.read_bytes(), media_type, headers={"Cache-Control": "public, max-age=3600"})


def make_console(config: dict[str, Any]) -> Console:
    """The console of this configuration: it calls the API at ``CONSOLE_API_URL``."""
    api_url = config["CONSOLE_API_URL"]
    return Console(Sessions(config, api_url), api_url, secure_cookies=bool(config.get("CONSOLE_SECURE_COOKIES")))
