"""HTTP entrypoints of the JSON API under ``/api/v1``.

A service method returns a JSON-ready value (or ``(status, value)``); errors a
caller can act on become 4xx answers naming the field, a database or broker outage
a 503 saying which, anything else a 500 without a traceback (the traceback goes to
the log).
"""
import inspect
import json
import logging

import eventlet
from marshmallow import ValidationError
from nameko.constants import WEB_SERVER_CONFIG_KEY
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from shared import auth
from shared.commands import invalid, validated
from shared.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unavailable
from shared.faults import unavailable_message
from shared.metrics import HTTP_RESPONSES
from shared.pagination import PageOut, PageQuery
from shared.safe_input import Malformed, check_text, load_json

log = logging.getLogger(__name__)

API = "/api/v1"
OPENAPI_PATH = API + "/openapi.json"
MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds
DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024
# Every operation must say who may call it (``permission=``: one of shared.auth.PERMISSIONS,
# SIGNED_IN or PUBLIC), or its service does not start: nothing answers anyone by omission.
REQUIRE_DECLARATIONS = True


class UndeclaredPermission(Exception):
    """An operation that does not say who may call it (or names no known permission)."""


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
            server.max_request_bytes = container.config.get("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)
            server._services, server._stopped = set(), 0
        server._services.add(container)  # bound once per entrypoint, stopped once per container
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
        # Each service on the server stops it in turn; only the last one really does.  Stopped by the
        # first, it would wait for the others' handlers to let go, and a caller stopping the services
        # one after another (tests/support/in_process.py) would wait for ever.
        self._stopped += 1
        if self._stopped < len(self._services):
            return
        self._running.pop(self.container.config.get(WEB_SERVER_CONFIG_KEY, "0.0.0.0:8000"), None)
        if self._gt is not None and not self._gt.dead:
            super().stop()
        elif self._sock is not None:  # the accept loop went with the container that started it
            self._sock.close()

    def get_wsgi_app(self):
        return self.wsgi_app

    def wsgi_app(self, environ, start_response):
        if self._url_map is None:
            self._url_map = self.make_url_map()
        request = Request(environ, shallow=True)
        request.max_content_length = self.max_request_bytes  # larger: 413, before it is read
        if request.path == OPENAPI_PATH and request.method == "GET":
            # Every API process answers with the whole API, whichever services it runs.
            from shared import openapi
            return json_response(openapi.document())(environ, start_response)
        provider = None
        try:
            provider, values = self._url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = error_response(exc.code, "http_error", exc.description)
        service = provider.container.service_name if provider is not None else "none"
        HTTP_RESPONSES.labels(service, f"{response.status_code // 100}xx").inc()  # the 5xx rate alert reads it
        return response(environ, start_response)


class HttpEndpoint(HttpRequestHandler):
    server = ApiServer()


class PrometheusEndpoint:
    """Mixin: the service answers ``GET /metrics`` on its web port."""

    @HttpEndpoint.decorator("GET", "/metrics")
    def prometheus_metrics(self, request):
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


# Where each refusal of the rules lands in HTTP: the one place that knows statuses.
STATUS = {Malformed: 400, InvalidInput: 422, NotFound: 404, Conflict: 409, Forbidden: 403, Unavailable: 503,
          auth.Unauthenticated: 401}


def status_of(error: DomainError) -> int:
    return next((status for kind, status in STATUS.items() if isinstance(error, kind)), 400)


class ApiEndpoint(HttpEndpoint):
    """``@api("POST", "/rollouts", body=RolloutIn, response=RolloutOut, status=201)``.

    What an operation declares is what it checks, and what the OpenAPI document
    says (``shared.openapi``): ``body`` (a marshmallow schema, or ``"file"`` for
    a CSV or XLSX upload) and ``query`` are loaded before the worker runs and
    handed to the method as the keywords ``body`` and ``query``, so a bad value
    is a 422 naming its field and the method only sees checked input.
    ``response`` (``many``: a list of them) and ``status`` document the answer;
    ``body_required=False`` makes a JSON body optional (absent, it loads ``{}``).

    A list answers in pages (``shared.pagination``): ``response=page_of(ItemOut)`` with ``query=``
    a ``PageQuery``; a ``GET`` answering ``many`` would be every entry at once and does not start.

    ``permission`` (one of ``shared.auth.PERMISSIONS``, ``SIGNED_IN`` or ``PUBLIC``)
    is checked first: the bearer token verified (401 otherwise), its role's
    permission and the path's ``<city>`` checked (403 naming them); the method
    gets the caller as the keyword ``principal`` if it names it.
    """

    def __init__(self, method, url, body=None, response=None, status=200, many=False,
                 query=None, body_required=True, produces="application/json", permission=None, **kwargs):
        self.path = url
        self.permission = permission
        self.produces = produces  # the media type of a successful answer (a file, for exports)
        self.body_schema = body
        self.response_schema = response
        self.success_status = status
        self.many = many
        self.query_schema = query
        self.paged = _subclass(query, PageQuery)  # a list, answered a page at a time
        self.body_required = body_required
        super().__init__(method, API + url, expected_exceptions=(DomainError, ValidationError), **kwargs)

    def setup(self):
        super().setup()
        takes = inspect.signature(getattr(self.container.service_cls, self.method_name)).parameters
        for keyword, declared in (("body", self.body_schema), ("query", self.query_schema)):
            if declared is not None and keyword not in takes:
                raise TypeError(f"{self.container.service_name}.{self.method_name} declares {keyword}= "
                                f"but does not take it")
        # The caller goes to the operations that name ``principal`` (to scope what they answer).
        self._takes_principal = "principal" in takes
        self._check_declaration()
        self.authenticator = auth.authenticator(self.container.config)

    def _check_declaration(self):
        service = self.container.service_cls
        where = f"{service.name}.{self.method_name} ({self.method} {self.path})"
        if self.permission is None:
            if REQUIRE_DECLARATIONS or getattr(service, "declares_permissions", False):
                raise UndeclaredPermission(f"{where} declares no permission: add permission=... to its @api "
                                           "(shared.auth.PERMISSIONS), or permission=PUBLIC for anyone")
        elif self.permission not in auth.PERMISSIONS and self.permission not in (auth.PUBLIC, auth.SIGNED_IN):
            raise UndeclaredPermission(f"{where} declares the unknown permission {self.permission!r}")
        if self.method == "GET" and self.many:
            raise TypeError(f"{where} answers a whole list: answer pages, response=page_of(...) with a PageQuery "
                            "query (shared/pagination.py)")
        if _subclass(self.response_schema, PageOut) != self.paged:
            raise TypeError(f"{where}: a page answer (page_of) and a PageQuery query go together")

    def principal(self, request):
        """The caller, authenticated and authorized for this operation (None for a public one)."""
        if self.permission in (None, auth.PUBLIC):
            return None
        principal = self.authenticator.authenticate(request.headers.get("Authorization"))
        return auth.authorize(principal, self.permission, city=request.path_values.get("city"))

    def get_entrypoint_parameters(self, request):
        # Who asks comes before what they send: an anonymous caller learns nothing of the input's rules.
        principal = self.principal(request)
        args, kwargs = super().get_entrypoint_parameters(request)
        for name, value in kwargs.items():
            # An id past what the databases store is simply not there, not an overflow.
            if isinstance(value, int) and value > MAX_ID:
                raise NotFound(f"{name.replace('_id', '')} {value} does not exist", field=name)
            if isinstance(value, str):
                check_text(value, name)
        if self._takes_principal:
            kwargs["principal"] = principal
        if self.body_schema == "file":
            kwargs["body"] = request.get_data()
        elif self.body_schema is not None:
            body = _json_body(request, optional=not self.body_required)
            kwargs["body"] = validated(_instance(self.body_schema), body)
        if self.query_schema is not None:
            query = request.args.to_dict()
            for name, value in query.items():
                check_text(value, name)
            kwargs["query"] = validated(_instance(self.query_schema), query)
        return args, kwargs

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
            exc = invalid(exc)
        if isinstance(exc, DomainError):
            response = json_response({"error": exc.as_dict()}, status_of(exc))
            if isinstance(exc, auth.Unauthenticated):
                challenge = 'Bearer realm="campaign"'
                if exc.reason != "missing":
                    challenge += ', error="invalid_token"'
                response.headers["WWW-Authenticate"] = challenge
            return response
        if isinstance(exc, HTTPException):
            return error_response(exc.code, "http_error", exc.description)
        outage = unavailable_message(exc)  # the database or the broker away: the caller may try again
        if outage is not None:
            log.error("%s %s answered 503: %s (%s)", self.method, self.url, outage, exc.__class__.__name__)
            return error_response(503, "unavailable", outage)
        log.error("unexpected error answering %s %s", self.method, self.url, exc_info=exc)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


def _subclass(schema, kind):
    return isinstance(schema, kind) or (isinstance(schema, type) and issubclass(schema, kind))


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


def _json_body(request, optional=False):
    """The request's JSON object, checked by ``shared.safe_input``; ``{}`` if ``optional`` and absent."""
    raw = request.get_data()
    if not raw:
        if optional:
            return {}
        raise InvalidInput("The request needs a JSON body.", fields={"body": ["Missing JSON body."]})
    body = load_json(raw)
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.", fields={"body": ["Must be a JSON object."]})
    return body

