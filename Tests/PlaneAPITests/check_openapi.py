#!/usr/bin/python3
"""Checks a running `photon serve` against Sources/PlaneAPI/openapi.yaml.

usage: check_openapi.py SPEC BASE_URL TOKEN CAFILE REQUESTS_JSON

REQUESTS_JSON is a list of {"method", "path", "body"?, "status"} the test wants made, in order.
For each: the answer's status must be the one expected and documented for that operation, and its
JSON body must match the documented schema (NDJSON: every line). Every documented operation must be
exercised at least once. Prints one line per problem; exits 1 if there is any.
"""
import json, re, ssl, sys, urllib.error, urllib.request

import jsonschema
import yaml

spec_path, base, token, cafile, requests_path = sys.argv[1:6]
spec = yaml.safe_load(open(spec_path))
requests = json.load(open(requests_path))
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # the certificate is pinned; the address is not its name
problems = []
exercised = set()


def operation_for(method, path):
    bare = path.split("?")[0]
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, bare) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(schema):
    # Resolve refs against the whole document, OpenAPI's `components` included.
    document = dict(spec)
    document.update(schema)
    return jsonschema.Draft7Validator(document, format_checker=jsonschema.FormatChecker())


for item in requests:
    method, path, expected = item["method"], item["path"], item["status"]
    template, operation = operation_for(method, path)
    if operation is None:
        problems.append(f"{method} {path}: not in the document")
        continue
    exercised.add((template, method.lower()))
    data = json.dumps(item["body"]).encode() if "body" in item else None
    headers = {"Accept": "application/json"}
    if item.get("token", True):
        headers["Authorization"] = "Bearer " + (item.get("tokenValue") or token)
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        response = urllib.request.urlopen(request, context=context, timeout=30)
        status, body, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, body, kind = error.code, error.read(), error.headers.get("Content-Type", "")
    if status != expected:
        problems.append(f"{method} {path}: HTTP {status}, the test expected {expected}: {body[:300]!r}")
        continue
    documented = operation["responses"].get(str(status))
    if documented is None:
        problems.append(f"{method} {path}: HTTP {status} is not documented for {method} {template}")
        continue
    documented = resolve(documented)
    media = documented.get("content", {})
    if not media:
        continue
    content_type, described = next(iter(media.items()))
    if not kind.startswith(content_type):
        problems.append(f"{method} {path}: Content-Type {kind}, documented {content_type}")
        continue
    check = validator(described["schema"])
    documents = [line for line in body.decode().split("\n") if line] if content_type == "application/x-ndjson" else [body.decode()]
    for text in documents:
        for error in check.iter_errors(json.loads(text)):
            problems.append(f"{method} {path}: {'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}")

for template, item in spec["paths"].items():
    for method in item:
        if method in ("get", "post", "put", "delete", "patch") and (template, method) not in exercised:
            problems.append(f"{method.upper()} {template}: documented but not exercised")

for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
