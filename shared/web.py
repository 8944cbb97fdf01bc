"""HTTP entrypoints of the JSON API under ``/api/v1``.

A service method returns a JSON-ready value (or ``(status, value)``); errors a
caller can act on become 4xx answers naming the field, a database outage a
503, anything else a 500 without a traceback (the traceback goes to the log).
"""
import json
import logging

import eventlet

from marshmallow import ValidationError
from nameko.constants import WEB_SERVER_CONFIG_KEY
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from shared.errors import CampaignError, InvalidInput, describe_fields

log = logging.getLogger(__name__)

API = "/api/v1"
OPENAPI_PATH = API + "/openapi.json"
MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds


def json_response(value, status=200):
    return Response(json.dumps(value, ensure_ascii=False, default=str), status=status,
                    mimetype="application/json")


def error_response(status, code, message, **details):
    return json_response({"error": {"code": code, "message": message, **details}}, status)


class ApiServer(WebServer):
    """One web server per address for every service in the process.

    nameko gives each service container its own server; services run together
    (``campaign serve``, the demo) would then compete for one port.  Sharing
    the server gives them one base URL, routing each path to its service.
    """

    _running = {}  # address -> the server bound to it in this process

    def bind(self, container):
        address = container.config.get(WEB_SERVER_CONFIG_KEY, "0.0.0.0:8000")
        server = self._running.get(address)
        if server is None:
            server = self._running[address] = super().bind(container)
            server._url_map = None
        container.shared_extensions[self.sharing_key] = server
        return server

    def register_provider(self, provider):
        super().register_provider(provider)
        self._url_map = None

    def unregister_provider(self, provider):
        super().unregister_provider(provider)
        self._url_map = None

    def start(self):
        if not self._starting:
            self._starting = True
            # Not SO_REUSEPORT (eventlet's default): a second process on a taken port
            # must fail to start, not silently receive half of another service's requests.
            self._sock = eventlet.listen(self.bind_addr, reuse_port=False)
            self._sock.settimeout(None)
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def stop(self):
        self._running.pop(self.container.config.get(WEB_SERVER_CONFIG_KEY, "0.0.0.0:8000"), None)
        if self._gt is not None and not self._gt.dead:
            super().stop()

    def get_wsgi_app(self):
        return self.wsgi_app

    def wsgi_app(self, environ, start_response):
        if self._url_map is None:
            self._url_map = self.make_url_map()
        request = Request(environ, shallow=True)
        if request.path == OPENAPI_PATH and request.method == "GET":
            # Every API process answers with the whole API, whichever services it runs.
            from shared import openapi
            return json_response(openapi.document())(environ, start_response)
        try:
            provider, values = self._url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = error_response(exc.code, "http_error", exc.description)
        return response(environ, start_response)


class HttpEndpoint(HttpRequestHandler):
    server = ApiServer()


class ApiEndpoint(HttpEndpoint):
    """``@api("POST", "/rollouts", body=RolloutIn, response=RolloutOut, status=201)``.

    ``body`` and ``response`` are the marshmallow schemas of the request and the
    answer (``many``: a list of them), ``query`` that of the query string, and
    ``status`` the answer's status: they document the operation (see
    ``shared.openapi``).  ``body="file"`` takes a CSV or XLSX file as the body;
    ``body_required=False`` makes a JSON body optional.
    """

    def __init__(self, method, url, body=None, response=None, status=200, many=False,
                 query=None, body_required=True, produces="application/json", **kwargs):
        self.path = url
        self.produces = produces  # the media type of a successful answer (a file, for exports)
        self.body_schema = body
        self.response_schema = response
        self.success_status = status
        self.many = many
        self.query_schema = query
        self.body_required = body_required
        # An id past what the databases store is simply not there (404), not an overflow (500).
        rule = url.replace("<int:", f"<int(max={MAX_ID}):")
        super().__init__(method, API + rule, expected_exceptions=(CampaignError, ValidationError), **kwargs)

    def handle_request(self, request):
        response = super().handle_request(request)
        if 400 <= response.status_code < 500:
            # The caller's mistake, answered: one line, no traceback (see quiet_expected_errors).
            log.warning("%s: %s %s answered %s %s", self.container.service_name, request.method, request.path,
                        response.status_code, error_code(response))
        return response

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, value = result if isinstance(result, tuple) else (200, result)
        return json_response(value, status)

    def response_from_exception(self, exc):
        if isinstance(exc, ValidationError):
            exc = InvalidInput(describe_fields(exc.messages), fields=exc.messages)
        if isinstance(exc, CampaignError):
            return json_response({"error": exc.as_dict()}, exc.status)
        if isinstance(exc, HTTPException):
            return error_response(exc.code, "http_error", exc.description)
        if isinstance(exc, OperationalError):
            log.error("database unavailable: %s", exc.__class__.__name__)
            return error_response(503, "unavailable", "The database is unavailable; try again shortly.")
        log.error("unexpected error answering %s %s", self.method, self.url, exc_info=exc)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


api = ApiEndpoint.decorator


def error_code(response):
    """The ``error.code`` of a JSON error answer, or ``-`` if it has none."""
    try:
        return json.loads(response.get_data())["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "-"


def quiet_expected_errors(record):
    """Drop nameko's record of an API worker's expected exception.

    nameko logs every exception listed in an entrypoint's ``expected_exceptions``
    as a warning with its traceback; for the API these are the 4xx answers,
    which ``ApiEndpoint`` logs in one line.  Unexpected errors keep their traceback.
    """
    if isinstance(record.msg, str) and record.msg.startswith("(expected) error handling worker") and record.args:
        return not isinstance(getattr(record.args[0], "entrypoint", None), ApiEndpoint)
    return True


logging.getLogger("nameko.containers").addFilter(quiet_expected_errors)


def json_body(request, optional=False):
    """The request's JSON object, or a clear 4xx; ``{}`` if ``optional`` and absent."""
    if not request.data:
        if optional:
            return {}
        raise InvalidInput("The request needs a JSON body.", fields={"body": ["Missing JSON body."]})
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}", fields={"body": ["Not valid JSON."]})
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.", fields={"body": ["Must be a JSON object."]})
    return body
