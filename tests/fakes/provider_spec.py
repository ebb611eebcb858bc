"""Check requests (and the fakes' answers) against the providers' official OpenAPI specs.

Why: the fakes in `providers.py` answer like the providers, but a fake is only as right as its
author. The specs are the providers' own description of the API, so every request our code
sends through the real SDKs is also checked against them: a path or a method the API does not
have, a body of the wrong media type, a required field missing, or a field the API does not
define (Twilio silently ignores unknown form fields, so a typo such as `Statuscallback` would
otherwise go unnoticed until callbacks never arrive).

Specs are read from `$DUNNING_PROVIDER_SPECS` if set, else from `<repo root>/../shared/
provider-specs` (twilio_api_v2010.json, sendgrid_mail_v3.json).

Checks, all returning human-readable problems (an empty list means "conforms"):
- `spec_problems(request)`: path template (`{Param}` segments, with the parameter's pattern),
  method, declared query parameters, authentication scheme, body media type, then the body
  against the request schema (`$ref`s resolved): required fields, unknown fields (top level and
  inside objects whose properties the spec lists), types, enums, patterns, lengths and the
  formats that matter (absolute URLs, TwiML, e-mail addresses, dates). Repeated form keys are
  only allowed for array fields.
- `response_problems(...)`: the status is one the spec lists for the operation (or a generic
  error status the provider documents elsewhere), and a success body matches the response
  schema (no unknown keys, right types, Twilio's RFC 2822 dates, sid patterns).
"""

from __future__ import annotations

import difflib
import email.utils
import functools
import json
import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.common import Provider, RecordedRequest, json_type
from tests.fakes.sendgrid import EMAIL

SPECS_ENV = "DUNNING_PROVIDER_SPECS"
SPEC_FILES: dict[str, str] = {
    "twilio": "twilio_api_v2010.json",
    "sendgrid": "sendgrid_mail_v3.json",
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Error statuses both providers document for every endpoint even where a spec omits them.
GENERIC_ERROR_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 429})
CALLBACK_METHODS = frozenset({"GET", "POST"})

# Where a spec contradicts the live API and the provider's own SDK, keyed by operationId and
# the field's location (array items as `[]`). Each entry says why.
SPEC_ERRATA: dict[tuple[str, str], dict[str, Any]] = {
    # sendgrid_mail_v3.json types the message-level `custom_args` as a string, but SendGrid
    # documents it as an object of string values (like the personalization-level one), and the
    # official Python SDK (sendgrid 6.12.5, `Mail.custom_arg`) sends an object.
    ("SendMail", "custom_args"): {"type": "object", "additionalProperties": {"type": "string"}},
}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def specs_dir() -> Path:
    """Where the spec files are: `$DUNNING_PROVIDER_SPECS`, else beside the repository."""
    configured = os.environ.get(SPECS_ENV)
    if configured:
        return Path(configured)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "provider-specs"


def load_spec(provider: Provider) -> Spec:
    """The parsed spec of `provider` (cached per file path)."""
    if provider not in SPEC_FILES:
        raise ValueError(f"unknown provider {provider!r}")
    path = specs_dir() / SPEC_FILES[provider]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: set {SPECS_ENV} to the directory holding {SPEC_FILES[provider]}"
        )
    return _load(str(path.resolve()))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> Spec:
    with open(path, encoding="utf-8") as handle:
        return Spec(json.load(handle))


class Spec:
    """An OpenAPI document with `$ref` resolution and path-template matching."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._templates: list[tuple[int, int, str, re.Pattern[str]]] = []
        for template in document.get("paths", {}):
            names = re.findall(r"\{([^}]+)\}", template)
            # Groups are numbered: parameter names are not always valid group names.
            pieces = re.split(r"\{[^}]+\}", template)
            pattern = re.escape(pieces[0])
            for index, piece in enumerate(pieces[1:]):
                pattern += f"(?P<p{index}>[^/]+)" + re.escape(piece)
            literal = len(template) - sum(len(name) + 2 for name in names)
            self._templates.append((len(names), -literal, template, re.compile(pattern)))
        self._templates.sort()

    def resolve(self, node: Any) -> Any:
        """Follow `$ref`s; sibling keys beside a `$ref` (OpenAPI 3.1) override the target."""
        for _ in range(32):
            if not isinstance(node, dict) or "$ref" not in node:
                return node
            target = self._pointer(node["$ref"])
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node = {**target, **siblings} if siblings else target
        raise ValueError("$ref chain too deep")

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported: {ref}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The most specific path template matching `path`, with its parameter values."""
        for _, _, template, pattern in self._templates:
            found = pattern.fullmatch(path)
            if found:
                names = re.findall(r"\{([^}]+)\}", template)
                values = [unquote(found[f"p{index}"]) for index in range(len(names))]
                return template, dict(zip(names, values, strict=True))
        return None


@dataclass
class Operation:
    """One operation of a spec, as matched for a concrete request."""

    spec: Spec
    template: str
    method: str
    definition: dict[str, Any]
    path_values: dict[str, str]
    parameters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.template}"

    @property
    def operation_id(self) -> str:
        return str(self.definition.get("operationId", self.label))


def find_operation(
    provider: Provider, method: str, path: str
) -> tuple[Operation | None, list[str]]:
    """The spec operation for `method path`, or None with the reason."""
    spec = load_spec(provider)
    matched = spec.match(path)
    if matched is None:
        return None, [f"{provider}: no path in the spec matches {path}"]
    template, values = matched
    item = spec.resolve(spec.document["paths"][template])
    definition = item.get(method.lower())
    if definition is None:
        defined = [m.upper() for m in HTTP_METHODS if m in item]
        return None, [f"{provider}: {method.upper()} is not defined for {template} ({defined})"]
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in (*item.get("parameters", []), *definition.get("parameters", [])):
        parameter = spec.resolve(raw)
        parameters[(parameter["name"], parameter["in"])] = parameter
    return (
        Operation(spec, template, method.lower(), definition, values, list(parameters.values())),
        [],
    )


def spec_problems(request: RecordedRequest) -> list[str]:
    """What in `request` the provider's spec does not allow; empty when it conforms."""
    operation, problems = find_operation(request.provider, request.method, request.path)
    if operation is None:
        return problems
    spec = operation.spec
    label = operation.label

    for parameter in operation.parameters:
        name, location = parameter["name"], parameter["in"]
        schema = parameter.get("schema", {})
        if location == "path" and name in operation.path_values:
            problems += _string_problems(
                operation.path_values[name], schema, spec, f"{label}: path parameter {name}"
            )
        elif location == "query" and parameter.get("required") and name not in request.query:
            problems.append(f"{label}: query parameter {name!r} is required")
        elif location == "header" and parameter.get("required") and not request.header(name):
            problems.append(f"{label}: header {name!r} is required")

    declared_query = {p["name"]: p for p in operation.parameters if p["in"] == "query"}
    for name, values in request.query.items():
        parameter = declared_query.get(name)
        if parameter is None:
            problems.append(
                f"{label}: query parameter {name!r} is not defined"
                + _did_you_mean(name, declared_query)
            )
            continue
        for value in values:
            problems += _string_problems(
                value, parameter.get("schema", {}), spec, f"{label}: query parameter {name}"
            )

    problems += _security_problems(operation, request)
    problems += _body_problems(operation, request)
    return problems


def response_problems(
    provider: Provider, method: str, path: str, status: int, body: Any
) -> list[str]:
    """What in an answer the spec does not allow; `body` may be bytes, text or parsed JSON."""
    operation, problems = find_operation(provider, method, path)
    if operation is None:
        return problems
    spec, label = operation.spec, operation.label
    responses = operation.definition.get("responses", {})
    key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None)
    if key is None:
        if status in GENERIC_ERROR_STATUSES or 500 <= status <= 599:
            return []
        return [f"{label}: status {status} is not among the spec's responses {sorted(responses)}"]
    if not 200 <= status < 300:
        return []  # error bodies: the shapes are checked by the SDKs' own error handling
    try:
        parsed = _parse_body(body)
    except ValueError:
        return [f"{label}: {status} body is not JSON: {body!r:.200}"]
    content = spec.resolve(responses[key]).get("content") or {}
    if not content:
        if parsed is not None:
            return [f"{label}: the spec defines no body for {status}, got {parsed!r:.200}"]
        return []
    if parsed is None:
        return [f"{label}: the spec defines a body for {status} ({sorted(content)}), got none"]
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return []
    found: list[str] = []
    _json_problems(parsed, schema, spec, "", "", operation.operation_id, found, response=True)
    return [f"{label} {status}: {problem}" for problem in found]


# -- parts ---------------------------------------------------------------------------------


def _security_problems(operation: Operation, request: RecordedRequest) -> list[str]:
    spec = operation.spec
    requirements = operation.definition.get("security", spec.document.get("security"))
    if not requirements:
        return []
    schemes = spec.document.get("components", {}).get("securitySchemes", {})
    authorization = request.header("Authorization") or ""
    wanted: list[str] = []
    for requirement in requirements:
        for name in requirement:
            scheme = spec.resolve(schemes.get(name, {}))
            if scheme.get("type") == "http":
                prefix = str(scheme.get("scheme", "")).lower()
                wanted.append(prefix)
                if authorization.lower().startswith(prefix + " "):
                    return []
    if not wanted:
        return []
    return [f"{operation.label}: Authorization must use {' or '.join(wanted)} authentication"]


def _body_problems(operation: Operation, request: RecordedRequest) -> list[str]:
    spec, label = operation.spec, operation.label
    request_body = spec.resolve(operation.definition.get("requestBody"))
    if not request_body:
        if request.raw:
            return [f"{label}: the operation takes no body, got {len(request.raw)} bytes"]
        return []
    if not request.raw:
        return [f"{label}: a request body is required"] if request_body.get("required") else []
    content: dict[str, Any] = request_body.get("content", {})
    media_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if media_type not in content:
        return [f"{label}: body media type {media_type or 'none'!r} not in {sorted(content)}"]
    schema = spec.resolve(content[media_type].get("schema", {}))
    if media_type == "application/x-www-form-urlencoded":
        form = request.form
        if form is None:
            form = parse_qs(request.raw.decode("utf-8", "replace"), keep_blank_values=True)
        return _form_problems(form, schema, spec, label)
    if media_type == "application/json":
        try:
            body = request.json if request.json is not None else json.loads(request.raw)
        except ValueError:
            return [f"{label}: body is not valid JSON"]
        found: list[str] = []
        _json_problems(body, schema, spec, "", "", operation.operation_id, found, response=False)
        return [f"{label}: {problem}" for problem in found]
    return []


def _form_problems(
    form: dict[str, list[str]], schema: dict[str, Any], spec: Spec, label: str
) -> list[str]:
    problems: list[str] = []
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if not any(value != "" for value in form.get(name, [])):
            problems.append(f"{label}: form field {name!r} is required")
    for name, values in form.items():
        if name not in properties:
            problems.append(
                f"{label}: form field {name!r} is not defined by the spec"
                + _did_you_mean(name, properties)
            )
            continue
        prop = spec.resolve(properties[name])
        where = f"{label}: form field {name}"
        if _types(prop) == {"array"}:
            for value in values:
                problems += _string_problems(value, prop.get("items", {}), spec, where)
        else:
            if len(values) > 1:
                problems.append(f"{where} is sent {len(values)} times but is not an array")
            problems += _string_problems(values[0], prop, spec, where)
    return problems


def _string_problems(value: str, schema: Any, spec: Spec, where: str) -> list[str]:
    """Problems of one form, query or path value (all strings on the wire) against `schema`."""
    schema = spec.resolve(schema)
    problems: list[str] = []
    types = _types(schema) - {"null"}
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if types == {"integer"}:
        if not re.fullmatch(r"-?\d+", value):
            return [*problems, f"{where}: {value!r} is not an integer"]
        problems += _range_problems(int(value), schema, where)
    elif types == {"number"}:
        try:
            problems += _range_problems(float(value), schema, where)
        except ValueError:
            problems.append(f"{where}: {value!r} is not a number")
    elif types == {"boolean"}:
        if value.lower() not in ("true", "false"):
            problems.append(f"{where}: {value!r} is not true or false")
    else:
        problems += _text_problems(value, schema, where, lenient_dates=True)
        problems += _wire_format_problems(value, schema, where)
    return problems


def _text_problems(
    value: str, schema: dict[str, Any], where: str, *, lenient_dates: bool
) -> list[str]:
    problems: list[str] = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.append(f"{where}: {value!r} is shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{where}: {value!r} is longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
    fmt = schema.get("format")
    if fmt == "email" and not EMAIL.fullmatch(value):
        problems.append(f"{where}: {value!r} is not an e-mail address")
    elif fmt == "date-time" and not _is_datetime(value, allow_date=lenient_dates):
        problems.append(f"{where}: {value!r} is not an ISO 8601 date-time")
    elif fmt == "date" and not _ISO_DATE.fullmatch(value):
        problems.append(f"{where}: {value!r} is not an ISO 8601 date")
    elif fmt == "date-time-rfc-2822" and not _is_rfc2822(value):
        problems.append(f"{where}: {value!r} is not an RFC 2822 date")
    return problems


def _wire_format_problems(value: str, schema: dict[str, Any], where: str) -> list[str]:
    """Formats that only make sense for what a client sends (absolute URLs, TwiML, methods)."""
    fmt = schema.get("format")
    ignore = (schema.get("x-twilio") or {}).get("ignoreFormat")
    if fmt == "uri" and not ignore:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return [f"{where}: {value!r} is not an absolute http(s) URL"]
    elif fmt == "http-method" and "enum" not in schema and value.upper() not in CALLBACK_METHODS:
        return [f"{where}: {value!r} is not GET or POST"]
    elif fmt == "twiml":
        try:
            root = ElementTree.fromstring(value)
        except ElementTree.ParseError as exc:
            return [f"{where}: TwiML is not well-formed XML ({exc})"]
        if root.tag != "Response":
            return [f"{where}: TwiML root element is <{root.tag}>, not <Response>"]
    return []


def _json_problems(
    value: Any,
    schema: Any,
    spec: Spec,
    where: str,
    location: str,
    operation_id: str,
    problems: list[str],
    *,
    response: bool,
) -> None:
    """Walk `value` against `schema`, appending problems named by JSON path (`a[0].b`)."""
    schema = SPEC_ERRATA.get((operation_id, location)) or spec.resolve(schema)
    name = where or "body"
    types = _types(schema)
    if value is None:
        if types and "null" not in types and not schema.get("nullable"):
            problems.append(f"{name}: null is not allowed")
        return
    actual = json_type(value)
    if types and actual not in types and not (actual == "integer" and "number" in types):
        problems.append(f"{name}: expected {' or '.join(sorted(types))}, got {actual}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{name}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        problems += _text_problems(value, schema, name, lenient_dates=False)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        problems += _range_problems(value, schema, name)
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{name}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{name}: more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            _json_problems(
                item,
                schema.get("items", {}),
                spec,
                f"{where}[{index}]",
                f"{location}[]",
                operation_id,
                problems,
                response=response,
            )
    elif isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if not response:
            for required in schema.get("required", []):
                if required not in value:
                    problems.append(f"{_join(where, required)}: required")
        for key, item in value.items():
            path, loc = _join(where, key), _join(location, key)
            if key in properties:
                child = properties[key]
            elif isinstance(extra, dict):
                child = extra
            elif properties and extra is not True:
                # JSON Schema would allow it, but a field the spec does not name is a typo or
                # something the provider ignores: either way worth knowing.
                problems.append(f"{path}: not defined by the spec" + _did_you_mean(key, properties))
                continue
            else:
                continue
            _json_problems(item, child, spec, path, loc, operation_id, problems, response=response)


def _range_problems(number: float, schema: dict[str, Any], where: str) -> list[str]:
    problems = []
    if "minimum" in schema and number < schema["minimum"]:
        problems.append(f"{where}: {number} is below {schema['minimum']}")
    if "maximum" in schema and number > schema["maximum"]:
        problems.append(f"{where}: {number} is above {schema['maximum']}")
    return problems


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()
    types = set(declared) if isinstance(declared, list) else {declared}
    if schema.get("nullable"):
        types.add("null")
    return types


def _is_datetime(value: str, *, allow_date: bool) -> bool:
    if allow_date and _ISO_DATE.fullmatch(value):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return not _ISO_DATE.fullmatch(value)


def _is_rfc2822(value: str) -> bool:
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _parse_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        return json.loads(body) if body.strip() else None
    return body


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    if not close:
        lowered = {str(k).lower(): str(k) for k in known}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


__all__ = [
    "SPECS_ENV",
    "SPEC_ERRATA",
    "Operation",
    "Spec",
    "find_operation",
    "load_spec",
    "response_problems",
    "spec_problems",
    "specs_dir",
]
