"""The OpenAPI document of the whole ``/api/v1``, built from the ``@api`` declarations.

Each operation's request and response schemas are the marshmallow schemas the
service itself loads and dumps with (apispec's MarshmallowPlugin), so the
document cannot drift from the code.  A response field that is not marked
required may be null: the services dump what they have.  An answer keyed by
names it makes up (reporting's summaries, by routing key) says what each value
is in its schema's ``Meta.values``: one of those schemas.
"""
import functools
import inspect
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from marshmallow import INCLUDE, Schema, fields

from shared import auth
from shared.pagination import MAX_LIMIT
from shared.web import API, MAX_ID, ApiEndpoint

TITLE = "Internet Aman untuk Anak campaign API"
VERSION = "1.0.0"
BEARER = "bearer"
PATH_VALUE = re.compile(r"<(?:(\w+):)?(\w+)>")


class ErrorDetail(Schema):
    class Meta:
        unknown = INCLUDE  # an error may carry more details, e.g. existing_participant_id

    code = fields.String(required=True)
    message = fields.String(required=True)
    field = fields.String()
    rows = fields.List(fields.Dict())  # for files: each bad row's line, field and problem


# "fields" (each bad field and its problems) shadows marshmallow's module name in a class body.
ErrorDetail._declared_fields["fields"] = fields.Dict()


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def endpoints(service_class):
    """(method name, ApiEndpoint) of every ``@api`` operation of a service class."""
    found = []
    for name, method in inspect.getmembers(service_class, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiEndpoint):
                found.append((name, method, entrypoint))
    return sorted(found, key=lambda item: (item[2].path, item[2].method))


def _schema_classes(schema, seen):
    """The schema class and every class nested in it."""
    schema = schema if isinstance(schema, type) else type(schema)
    if schema in seen:
        return seen
    seen.add(schema)
    for field in schema._declared_fields.values():
        while isinstance(field, (fields.List, fields.Tuple)) and hasattr(field, "inner"):
            field = field.inner
        if isinstance(field, fields.Nested) and isinstance(field.nested, (type, Schema)):
            _schema_classes(field.nested, seen)
    for each in _values(schema):
        _schema_classes(each, seen)
    return seen


def _values(schema):
    """What each value of an answer keyed by made-up names may be (``Meta.values``): one of these schemas."""
    return getattr(getattr(schema, "Meta", None), "values", ())


class Converter(OpenAPIConverter):
    def schema2jsonschema(self, schema):
        jsonschema = super().schema2jsonschema(schema)
        if _values(schema):
            jsonschema["additionalProperties"] = {"oneOf": [self.resolve_nested_schema(each)
                                                            for each in _values(schema)]}
        return jsonschema


class Plugin(MarshmallowPlugin):
    Converter = Converter


def _openapi_path(path):
    parameters = []
    for converter, name in PATH_VALUE.findall(path):
        kind = {"int": "integer", "float": "number"}.get(converter, "string")
        schema = {"type": kind, "minimum": 0, "maximum": MAX_ID} if kind == "integer" else {"type": kind}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return PATH_VALUE.sub(r"{\2}", path), parameters


def build(service_classes):
    """The OpenAPI 3 document, as a dict, of the given nameko service classes."""
    responses = set()
    for service_class in service_classes:
        for _, _, entrypoint in endpoints(service_class):
            if entrypoint.response_schema is not None:
                _schema_classes(entrypoint.response_schema, responses)
    plugin = Plugin(schema_name_resolver=_schema_names(service_classes))
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.0.3", plugins=[plugin],
                   servers=[{"url": API}],
                   info={"description": "One base URL for every service; see docs/api.md."})

    def nullable_in_answers(self, field, **kwargs):
        parent = field.root if field.parent is not None else None
        owner = type(field.parent) if isinstance(field.parent, Schema) else type(parent)
        if owner in responses and not field.required:
            return {"nullable": True}
        return {}

    plugin.converter.add_attribute_function(nullable_in_answers)
    spec.components.schema("Error", schema=Error)
    spec.components.security_scheme(BEARER, {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An access token of POST /auth/token (or of the configured OpenID Connect issuer); "
                       "each operation's x-permission names what its role must hold (docs/identity.md)."})
    error = {"content": {"application/json": {"schema": "Error"}}}
    paths = {}
    for service_class in service_classes:
        service = service_class.name
        for name, method, entrypoint in endpoints(service_class):
            path, parameters = _openapi_path(entrypoint.path)
            identified = bool(parameters)
            if entrypoint.query_schema is not None:
                parameters.append({"in": "query", "schema": entrypoint.query_schema})
            operation = {
                "operationId": f"{service}.{name}",
                "tags": [service],
                "summary": (inspect.getdoc(method) or name.replace("_", " ")).splitlines()[0],
                "parameters": parameters,
                "responses": {str(entrypoint.success_status): _answer(entrypoint)},
            }
            if entrypoint.body_schema == "file":
                operation["requestBody"] = {"required": True, "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                        {"schema": {"type": "string", "format": "binary"}},
                }}
            elif entrypoint.body_schema is not None:
                operation["requestBody"] = {"required": entrypoint.body_required, "content": {
                    "application/json": {"schema": entrypoint.body_schema}}}
            if entrypoint.body_schema is not None or entrypoint.query_schema is not None:
                operation["responses"]["422"] = {"description": "Bad input; each bad field (or row) named", **error}
            if entrypoint.paged:
                operation["responses"]["400"] = {"description": f"A limit outside 1 to {MAX_LIMIT}, or a cursor "
                                                                "this list did not give; field names it", **error}
            if identified:
                operation["responses"]["404"] = {"description": "No such resource", **error}
            if entrypoint.method in ("POST", "PATCH", "PUT", "DELETE"):
                operation["responses"]["409"] = {"description": "Not possible in the current state", **error}
            _security(operation, entrypoint.permission, error)
            operation["responses"]["4XX"] = {"description": "Any other refusal, with its reason", **error}
            operation["responses"]["503"] = {"description": "The database is unavailable; try again", **error}
            paths.setdefault(path, {})[entrypoint.method.lower()] = operation
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _schema_names(service_classes):
    """Each schema's name in the document: its class name, or its service's name before it
    where two services have a schema of the same name (registration's and assessment's ImportOut)."""
    owners = {}
    for service_class in service_classes:
        for _, _, entrypoint in endpoints(service_class):
            for schema in (entrypoint.body_schema, entrypoint.response_schema, entrypoint.query_schema):
                if schema is not None and schema != "file":
                    for cls in _schema_classes(schema, set()):
                        owners.setdefault(cls.__name__, {})[cls] = service_class.name
    def resolve(schema):
        cls = schema if isinstance(schema, type) else type(schema)
        services = owners.get(cls.__name__, {})
        if len(services) > 1 and cls in services:
            return services[cls].capitalize() + cls.__name__
        return cls.__name__
    return resolve


def _security(operation, permission, error):
    """Who may call the operation: the bearer scheme and its x-permission, or nobody in particular."""
    if permission is None:
        return  # not declared yet (shared.web.REQUIRE_DECLARATIONS)
    operation["x-permission"] = permission
    if permission == auth.PUBLIC:
        operation["security"] = []
        return
    operation["security"] = [{BEARER: []}]
    needs = ("any signed-in account" if permission == auth.SIGNED_IN
             else f"the permission `{permission}` ({auth.PERMISSIONS[permission]})")
    operation["description"] = f"Needs {needs}."
    operation["responses"]["401"] = {"description": "No valid access token (missing, expired, altered, "
                                                    "unknown key); error.reason says which", **error}
    if permission != auth.SIGNED_IN:
        operation["responses"]["403"] = {"description": f"The caller's role lacks {permission}, "
                                                        "or the path's city is not theirs", **error}


def _answer(entrypoint):
    answer = {"description": "Done"}
    if entrypoint.produces != "application/json":
        answer["content"] = {entrypoint.produces: {"schema": {"type": "string", "format": "binary"}}}
    elif entrypoint.response_schema is not None:
        schema = entrypoint.response_schema
        answer["content"] = {"application/json": {
            "schema": {"type": "array", "items": schema} if entrypoint.many else schema}}
    else:
        answer["content"] = {"application/json": {"schema": {}}}
    return answer


@functools.cache
def document():
    """The document of the four services (built once per process)."""
    from campaign.runner import service_class  # the campaign's list of services
    from shared.config import SERVICES

    return build([service_class(name) for name in SERVICES])
