"""The web console: pages for coordinators, committees, partners and operators, under ``/console``.

Thin: werkzeug's request becomes a ``Visit`` for ``services.console.app`` (plain Python), and its
``Reply`` a response.  The console has no database and no queues; it calls the services' API as
the signed-in person (``CONSOLE_API_URL``), on the same web server as the API when they run in
one process (``campaign serve``, ``campaign demo --serve``).  Deployed on its own, it answers
``/health/live``, ``/health/ready`` and ``/metrics`` as the services do.
"""
import logging

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from services.console.app import PREFIX, Reply, Visit
from services.console.pages import make_console
from shared.health import HealthEndpoints
from shared.web import HttpEndpoint, PrometheusEndpoint

log = logging.getLogger(__name__)

# Pages run nothing from elsewhere: scripts and styles are the console's own files (htmx included).
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ERROR_PAGE = ("<!DOCTYPE html><html lang=\"id\"><meta charset=\"utf-8\"><title>Konsol</title>"
              "<p>Maaf, terjadi kesalahan di sisi kami; sudah dicatat. Sorry, something went wrong on our side; "
              "it has been logged.</p><p><a href=\"/console/\">Konsol</a></p></html>")


class ConsoleEndpoint(HttpEndpoint):
    def response_from_exception(self, exc):
        log.error("unexpected error answering %s %s", self.method, self.url, exc_info=exc)
        return Response(ERROR_PAGE, status=500, mimetype="text/html", headers=SECURITY_HEADERS)


page = ConsoleEndpoint.decorator


class TheConsole(DependencyProvider):
    def setup(self):
        self.console = make_console(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.console


def visit_of(request, rest: str) -> Visit:
    files = {name: (upload.filename or "", upload.read()) for name, upload in request.files.items()}
    return Visit(
        method=request.method, path="/" + rest, query=request.args.to_dict(), form=request.form.to_dict(),
        form_lists={name: request.form.getlist(name) for name in request.form},
        files=files, cookies=dict(request.cookies), htmx=request.headers.get("HX-Request") == "true")


def response_of(reply: Reply, secure: bool) -> Response:
    response = Response(reply.body, status=reply.status, content_type=reply.media_type)
    response.headers.update(reply.headers)
    if reply.media_type.startswith("text/html"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
    for cookie in reply.cookies:
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path=PREFIX, secure=secure,
                            httponly=cookie.http_only, samesite="Strict")
    return response


class ConsoleService(PrometheusEndpoint, HealthEndpoints):
    name = "console"

    console = TheConsole()
    config = Config()

    @page("GET", "/")
    def root(self, request):
        return Response(status=302, headers={"Location": PREFIX + "/"})

    @page("GET", PREFIX)
    def console_root(self, request):
        return Response(status=302, headers={"Location": PREFIX + "/"})

    @page("GET,POST", PREFIX + "/")
    def home(self, request):
        return self._answer(request, "")

    @page("GET,POST", PREFIX + "/<path:rest>")
    def pages(self, request, rest):
        return self._answer(request, rest)

    def _answer(self, request, rest):
        return response_of(self.console.handle(visit_of(request, rest)), self.console.secure_cookies)
