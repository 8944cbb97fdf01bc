"""One base URL for API users, whichever processes the services run in.

``campaign gateway`` listens on one address and passes each ``/api/v1`` request
to the service that declares its path (the same ``@api`` declarations the
OpenAPI document is built from), so a client never needs to know which
process answers.  It answers ``/api/v1/openapi.json`` itself, ``/health/live`` and
``/health/ready`` for probes (the gateway needs nothing but itself to pass requests on; each
service behind it answers its own probes), and ``/metrics``, where its answers are counted as
the services count theirs, under the service name ``gateway``.
"""
import logging

import requests
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from shared import openapi
from shared.metrics import HTTP_RESPONSES
from shared.web import API, OPENAPI_PATH, error_response, json_response

log = logging.getLogger(__name__)

HEALTH = {"/health/live": "live", "/health/ready": "ready"}

# Hop-by-hop headers belong to one connection and are not passed on (RFC 9110, 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


def route_map(service_classes):
    """A werkzeug map from each declared path and method to its service's name."""
    rules = []
    for service_class in service_classes:
        for _, _, entrypoint in openapi.endpoints(service_class):
            rules.append(Rule(API + entrypoint.path, endpoint=service_class.name, methods=[entrypoint.method]))
    return Map(rules)


class Gateway:
    """A WSGI app passing requests to ``service_urls`` ({name: "http://host:port"})."""

    def __init__(self, service_urls, service_classes, timeout=120):
        self.service_urls = {name: url.rstrip("/") for name, url in service_urls.items()}
        self.routes = route_map(service_classes)
        self.timeout = timeout
        self.http = requests.Session()

    def __call__(self, environ, start_response):
        response = self.respond(Request(environ))
        HTTP_RESPONSES.labels("gateway", f"{response.status_code // 100}xx").inc()  # the 5xx rate alert reads it
        return response(environ, start_response)

    def respond(self, request):
        if request.method == "GET":
            if request.path == OPENAPI_PATH:
                return json_response(openapi.document())
            if request.path in HEALTH:
                return json_response({"status": HEALTH[request.path]})
            if request.path == "/metrics":
                return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
        try:
            service, _ = self.routes.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            return error_response(exc.code, "http_error", exc.description)
        except HTTPException as exc:
            return error_response(exc.code, "http_error", exc.description)
        base = self.service_urls.get(service)
        if base is None:
            return error_response(503, "unavailable", f"No address is configured for the {service} service.")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            answer = self.http.request(request.method, base + request.full_path.rstrip("?"),
                                       headers=headers, data=request.get_data(), timeout=self.timeout,
                                       allow_redirects=False)
        except requests.RequestException as exc:
            log.warning("%s did not answer: %s", service, exc.__class__.__name__)
            return error_response(502, "bad_gateway", f"The {service} service did not answer; try again shortly.")
        passed = [(k, v) for k, v in answer.headers.items()
                  if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"]
        return Response(answer.content, status=answer.status_code, headers=passed)


def serve(address, service_urls, ready=None):
    """Serve the gateway on ``address`` ("host:port") until the process is stopped."""
    import eventlet
    from eventlet import wsgi

    from campaign.runner import service_class
    from shared.config import SERVICES

    host, _, port = address.rpartition(":")
    listener = eventlet.listen((host or "0.0.0.0", int(port)))
    app = Gateway(service_urls, [service_class(name) for name in SERVICES])
    if ready:
        ready(listener.getsockname())
    wsgi.server(listener, app, log=logging.getLogger("campaign.gateway.access"), log_output=False)
