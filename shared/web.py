"""HTTP entrypoints of the JSON API under ``/api/v1``.

A service method returns a JSON-ready value (or ``(status, value)``); errors a
caller can act on become 4xx answers naming the field, a database outage a
503, anything else a 500 without a traceback (the traceback goes to the log).
"""
import inspect
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

from shared import auth
from shared.commands import invalid, validated
from shared.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unavailable

log = logging.getLogger(__name__)

API = "/api/v1"
OPENAPI_PATH = API + "/openapi.json"
MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds
# Every operation of a service declaring ``declares_permissions = True`` must say who may call
# it (``permission=``), or the service does not start.  True: every service must.  Stays False
# until the four older services declare theirs; their undeclared operations answer anyone.
REQUIRE_DECLARATIONS = False


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


# Where each refusal of the rules lands in HTTP: the one place that knows statuses.
STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, Forbidden: 403, Unavailable: 503,
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
        self.body_required = body_required
        # An id past what the databases store is simply not there (404), not an overflow (500).
        rule = url.replace("<int:", f"<int(max={MAX_ID}):")
        super().__init__(method, API + rule, expected_exceptions=(DomainError, ValidationError), **kwargs)

    def setup(self):
        super().setup()
        method = getattr(self.container.service_cls, self.method_name)
        self._takes = set(inspect.signature(method).parameters)
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
        kwargs["principal"] = principal
        if self.body_schema == "file":
            kwargs["body"] = request.get_data()
        elif self.body_schema is not None:
            body = _json_body(request, optional=not self.body_required)
            kwargs["body"] = validated(_instance(self.body_schema), body)
        if self.query_schema is not None:
            kwargs["query"] = validated(_instance(self.query_schema), request.args.to_dict())
        # An operation takes what it declares; one that has not been moved onto
        # declared input yet reads the request itself.
        return args, {k: v for k, v in kwargs.items() if k in self._takes}

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
        if isinstance(exc, OperationalError):
            log.error("database unavailable: %s", exc.__class__.__name__)
            return error_response(503, "unavailable", "The database is unavailable; try again shortly.")
        log.error("unexpected error answering %s %s", self.method, self.url, exc_info=exc)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


api = ApiEndpoint.decorator


def _json_body(request, optional=False):
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


json_body = _json_body  # for operations that still read the request themselves
