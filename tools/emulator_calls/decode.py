"""Which API operation an HTTP request to the emulator is, and its parameters, from the botocore
service models: query/ec2 by `Action` (+ `Version` when a signing name has several APIs), JSON
by `X-Amz-Target`, rest-json/rest-xml by URI template and method (moto's own router, built from
the same models), then the parameters with moto's protocol parsers.

Runs inside the moto child process (imports moto).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

import botocore.loaders

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass
class Decoded:
    """One request as far as it could be decoded.

    `service` is the SigV4 signing name (or the unsigned call's service), `api` the botocore
    service name, `operation` the operation name ("" when unknown, then `error` says why) and
    `params` the parsed input shape."""

    service: str
    region: str
    access_key_id: str
    api: str = ""
    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rejected: str | None = None
    """Why AWS refuses the request before authorizing it (a malformed id), set by `calls.plan`."""


def request_body(environ: dict[str, Any]) -> bytes:
    """Read the whole request body and put a fresh stream back for moto (WSGI input is read-once)."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH") or ""
    if stream is None:
        return b""
    if length.isdigit():
        body = stream.read(int(length)) if int(length) else b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


_index_lock = threading.Lock()
_signing_index: dict[str, list[str]] | None = None


def apis_for(signing_name: str) -> list[str]:
    """botocore service names for a SigV4 signing name: the service of that name if there is one
    (`rds`, not `docdb`/`neptune`, which sign as rds too), else every service whose metadata
    `signingName` (or endpoint prefix) it is (`monitoring` -> cloudwatch, `elasticloadbalancing` ->
    elb, elbv2). The index of all models' metadata is built once (about 3 s) on the first miss."""
    global _signing_index
    loader = _loader()
    if signing_name in _available():
        return [signing_name]
    with _index_lock:
        if _signing_index is None:
            index: dict[str, list[str]] = {}
            for name in sorted(_available()):
                meta = loader.load_service_model(name, "service-2")["metadata"]
                index.setdefault(meta.get("signingName", meta["endpointPrefix"]), []).append(name)
            _signing_index = index
    return list(_signing_index.get(signing_name, []))


_available_names: frozenset[str] | None = None


def _available() -> frozenset[str]:
    global _available_names
    if _available_names is None:
        _available_names = frozenset(_loader().list_available_services("service-2"))
    return _available_names


_loader_instance: botocore.loaders.Loader | None = None


def _loader() -> botocore.loaders.Loader:
    global _loader_instance
    if _loader_instance is None:
        _loader_instance = botocore.loaders.Loader()
    return _loader_instance


def service_model(api: str) -> dict[str, Any]:
    """The botocore `service-2` model of a botocore service name (`ec2`, `ecs`), as JSON data;
    loaded once per process (botocore's loader caches it). Raises botocore's DataNotFoundError
    for an unknown name."""
    return _loader().load_service_model(api, "service-2")


UNSIGNED_QUERY_SERVICES = {"AssumeRoleWithWebIdentity": "sts", "AssumeRoleWithSAML": "sts"}
"""Unsigned query calls (no credential scope to name the service): STS's web-identity and SAML
calls are unsigned by design (STS API reference, AssumeRoleWithWebIdentity: "Calling
AssumeRoleWithWebIdentity does not require the use of AWS security credentials")."""


def decode_request(environ: dict[str, Any], body: bytes) -> Decoded:
    """Service, region, access key, operation and parameters of one WSGI request."""
    from moto.core.request import Request

    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    match = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
        "Credential=" + (parse_qs(query).get("X-Amz-Credential", [""])[0])
    )
    form = _form(environ, body)
    if match:
        access_key, region, service = match.group(1), match.group(2), match.group(3)
    elif form.get("Action") in UNSIGNED_QUERY_SERVICES:
        access_key, region, service = "", "us-east-1", UNSIGNED_QUERY_SERVICES[form["Action"]]
    else:
        return Decoded(service="", region="", access_key_id="", error="unsigned request of no known service")
    decoded = Decoded(service=service, region=region, access_key_id=access_key)
    request = Request(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
    errors = []
    for api in apis_for(service):
        try:
            operation, uri_params = _route(api, request)
        except Exception as error:  # noqa: BLE001 - a model that does not route this request
            errors.append(f"{api}: {type(error).__name__}")
            continue
        if not _version_matches(operation, form):
            errors.append(f"{api}: api version {form.get('Version')} is not {operation.service_model.api_version}")
            continue
        decoded.api, decoded.operation = api, operation.name
        try:
            decoded.params = _parse(operation, request, body, uri_params)
        except Exception as error:  # noqa: BLE001 - operation known, parameters not
            decoded.error = f"parameters of {api} {operation.name}: {type(error).__name__}: {error}"
        return decoded
    decoded.operation = (
        form.get("Action")
        or environ.get("HTTP_X_AMZ_TARGET", "")
        or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
    )
    decoded.error = "no operation of " + (", ".join(errors) or f"a botocore model signed as {service!r}")
    return decoded


def _form(environ: Mapping[str, Any], body: bytes) -> dict[str, str]:
    if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _version_matches(operation: Any, form: Mapping[str, str]) -> bool:
    protocol = operation.service_model.protocol
    if protocol not in ("query", "ec2") or "Version" not in form:
        return True
    return form["Version"] == operation.service_model.api_version


def _route(api: str, request: Any) -> tuple[Any, dict[str, Any]]:
    from moto.core.routing import get_service_router

    return get_service_router(api).match(request)


def _parse(operation: Any, request: Any, body: bytes, uri_params: Mapping[str, Any]) -> dict[str, Any]:
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol

    protocol = determine_request_protocol(operation.service_model, request.content_type)
    payload = operation.input_shape.serialization.get("payload") if operation.input_shape else None
    if payload and operation.input_shape.members[payload].type_name == "blob":
        body = b""  # an object's bytes (maybe aws-chunked) carry no authorization input
    parser = PROTOCOL_PARSERS[protocol](operation)
    return dict(
        parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": body,
                "url_path": request.path,
                "url_params": dict(uri_params),
            }
        )
    )


def response_values(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Every (field name, scalar text) of a JSON or XML response body, depth first; [] when it is
    neither (an S3 object, an empty body)."""
    text = body.strip()
    if not text:
        return []
    if text[:1] in (b"{", b"["):
        try:
            return list(_json_leaves(json.loads(text), ""))
        except ValueError:
            return []
    if text[:1] == b"<":
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            return []
        return list(_xml_leaves(root, ""))
    return []


def _xml_leaves(element: ElementTree.Element, parent: str) -> Any:
    """Leaf elements as (name, text); a list item (`item`, `member`) is named by its list."""
    tag = element.tag.rsplit("}", 1)[-1]
    name = parent.removesuffix("Set") if tag in ("item", "member") else tag  # EC2's <flowLogIdSet><item>
    if len(element) == 0:
        if element.text and element.text.strip():
            yield name, element.text.strip()
        return
    for child in element:
        yield from _xml_leaves(child, name)


def _json_leaves(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_leaves(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _json_leaves(v, key)
    elif value is not None and not isinstance(value, bool):
        yield key, str(value)
