"""Checks real exchanges with the operator against docs/openapi.yaml.

Driven by crates/euid-operator/tests/openapi_document.rs: `openapi_check.py check` reads
{"document": PATH, "exchanges": [...]} on stdin (each exchange: method, path, status,
headers, content_type, and either `decrypted` (the opened 200 answer), `body_json`, or
`body_text`; `request` is the decrypted request JSON sent, if any) and prints
{"errors": [...], "uncovered": [...], "outcomes": N}.

- errors: an answer the document does not describe (status, content type, headers, or a body
  or decrypted answer that does not validate), and a 200 request that does not validate;
- uncovered: every place of a response schema no exchange reached: a `oneOf` branch (an
  outcome), a property (a documented field), an array's items, an `enum` value, and every
  documented status of every operation and content type of every status. Schemas marked `x-euid-untestable` (a fault no
  request can cause) are validated but need not be reached.

Schemas are validated with `jsonschema` (JSON Schema 2020-12, as OpenAPI 3.1 uses), `$ref`s
resolved inside the document through `referencing`.
"""

import json
import sys

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE_URI = "urn:euid-rs:openapi"
HTTP_METHODS = ("get", "post", "options", "put", "delete", "patch", "head")


class Document:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(BASE_URI, resource)
        # Where each schema sits in the document: a schema is validated as a `$ref` to its
        # place, so the `$ref`s inside it resolve against the whole document.
        self.pointers = {}
        self.validators = {}
        self._index(self.doc, "")

    def _index(self, node, pointer):
        if isinstance(node, (dict, list)):
            self.pointers.setdefault(id(node), pointer)
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                part = str(key).replace("~", "~0").replace("/", "~1")
                self._index(value, f"{pointer}/{part}")

    def resolve(self, node):
        """The object a local `$ref` points to (OpenAPI objects and schemas alike)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target = self.doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
            seen += 1
            assert seen < 50, ref
        return node

    def target(self, ref):
        return self.resolve({"$ref": ref})

    def validator(self, schema):
        pointer = self.pointers[id(schema)]
        if pointer not in self.validators:
            self.validators[pointer] = Draft202012Validator(
                {"$ref": f"{BASE_URI}#{pointer}"}, registry=self.registry
            )
        return self.validators[pointer]

    def errors(self, instance, schema):
        """The most telling validation error (inside a `oneOf`, the closest branch's), if any."""
        error = best_match(self.validator(schema).iter_errors(instance))
        if error is None:
            return []
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        return [f"{where}: {error.message[:300]}"]

    def is_valid(self, instance, schema):
        return self.validator(schema).is_valid(instance)

    # The places of a schema: every oneOf branch, property, items and enum value, named by
    # their logical path from the response (not by where the schema is written), so an
    # outcome shared by several operations must be reached on each of them.
    def untestable(self, schema):
        return isinstance(schema, dict) and "x-euid-untestable" in self.resolve(schema)

    def places(self, schema, path, out):
        if self.untestable(schema):
            return
        out.add(path)
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            self.places(self.target(schema["$ref"]), path, out)
        for i, branch in enumerate(schema.get("oneOf", [])):
            self.places(branch, f"{path}/oneOf/{i}", out)
        for name, sub in schema.get("properties", {}).items():
            self.places(sub, f"{path}/{name}", out)
        if "items" in schema:
            self.places(schema["items"], f"{path}/items", out)
        for value in schema.get("enum", []):
            out.add(f"{path}/enum/{json.dumps(value)}")

    def reached(self, instance, schema, path, out):
        out.add(path)
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            self.reached(instance, self.target(schema["$ref"]), path, out)
        for i, branch in enumerate(schema.get("oneOf", [])):
            if self.is_valid(instance, branch):
                self.reached(instance, branch, f"{path}/oneOf/{i}", out)
        if isinstance(instance, dict):
            for name, sub in schema.get("properties", {}).items():
                if name in instance:
                    self.reached(instance[name], sub, f"{path}/{name}", out)
        if isinstance(instance, list) and "items" in schema:
            for item in instance:
                self.reached(item, schema["items"], f"{path}/items", out)
        if "enum" in schema and instance in schema["enum"]:
            out.add(f"{path}/enum/{json.dumps(instance)}")


def operations(doc):
    for path, item in doc.doc["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def documented_places(doc):
    places = set()
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            response = doc.resolve(response)
            where = f"{method.upper()} {path} {status}"
            schemas = [c.get("schema") for c in response.get("content", {}).values()]
            if not (schemas and all(doc.untestable(s) for s in schemas)):
                places.add(where)
            for media, content in response.get("content", {}).items():
                if not doc.untestable(content.get("schema")):
                    places.add(f"{where} as {media}")
            if "x-euid-decrypted-response" in response:
                doc.places(response["x-euid-decrypted-response"], f"{where} decrypted", places)
            for media, content in response.get("content", {}).items():
                if media == "application/json" and "schema" in content:
                    doc.places(content["schema"], f"{where} {media}", places)
    unknown = doc.doc["x-euid-unknown-path"]
    where = f"* unknown-path {unknown['status']}"
    places.add(where)
    doc.places(unknown["content"]["application/json"]["schema"], f"{where} application/json", places)
    return places


def check_headers(doc, response, exchange, errors, label):
    headers = {name.lower(): value for name, value in exchange["headers"]}
    documented = {}
    for name, header in response.get("headers", {}).items():
        header = doc.resolve(header)
        documented[name.lower()] = header
        value = headers.get(name.lower())
        if value is None:
            if header.get("required"):
                errors.append(f"{label}: header {name} missing")
            continue
        for e in doc.errors(value, header.get("schema", {})):
            errors.append(f"{label}: header {name}: {e}")
    for name in headers:
        if name.startswith("access-control-") and name not in documented:
            errors.append(f"{label}: undocumented header {name}: {headers[name]}")
    if "vary" in headers and "vary" not in documented:
        errors.append(f"{label}: undocumented header vary: {headers['vary']}")


def check_exchange(doc, exchange, errors, reached):
    method = exchange["method"].lower()
    path = exchange["path"]
    status = str(exchange["status"])
    label = f"{exchange['method']} {path} -> {status} ({exchange.get('case', '')})"
    item = doc.doc["paths"].get(path)
    if item is None:
        unknown = doc.doc["x-euid-unknown-path"]
        if status != str(unknown["status"]):
            errors.append(f"{label}: an unknown path answers {unknown['status']}")
            return
        where = f"* unknown-path {status}"
        response = unknown
    else:
        op = item.get(method)
        if op is None:
            errors.append(f"{label}: method not documented")
            return
        response = op["responses"].get(status)
        if response is None:
            errors.append(f"{label}: status not documented")
            return
        response = doc.resolve(response)
        where = f"{method.upper()} {path} {status}"
        check_headers(doc, response, exchange, errors, label)
    reached.add(where)
    content = response.get("content", {})
    media = (exchange.get("content_type") or "").split(";")[0].strip()
    if not content:
        if exchange.get("body_text"):
            errors.append(f"{label}: a body where none is documented")
        return
    if media not in content:
        errors.append(f"{label}: content type {media!r} not documented ({list(content)})")
        return
    reached.add(f"{where} as {media}")
    if "x-euid-decrypted-response" in response:
        if "decrypted" not in exchange:
            errors.append(f"{label}: the test did not open the answer")
            return
        schema = response["x-euid-decrypted-response"]
        found = doc.errors(exchange["decrypted"], schema)
        errors.extend(f"{label}: decrypted: {e}" for e in found)
        if not found:
            doc.reached(exchange["decrypted"], schema, f"{where} decrypted", reached)
        request_schema = op.get("x-euid-decrypted-request")
        if request_schema is not None and exchange.get("request") is not None:
            errors.extend(
                f"{label}: the request that succeeded: {e}"
                for e in doc.errors(exchange["request"], request_schema)
            )
        return
    if media == "application/json":
        if "body_json" not in exchange:
            errors.append(f"{label}: body is not JSON: {exchange.get('body_text')!r}")
            return
        schema = content[media].get("schema", {})
        found = doc.errors(exchange["body_json"], schema)
        errors.extend(f"{label}: body {json.dumps(exchange['body_json'])[:300]}: {e}" for e in found)
        if not found:
            doc.reached(exchange["body_json"], schema, f"{where} {media}", reached)
        return
    if media == "application/yaml":
        try:
            yaml.safe_load(exchange.get("body_text", ""))
        except yaml.YAMLError as e:
            errors.append(f"{label}: not YAML: {e}")


def main():
    if sys.argv[1:] != ["check"]:
        sys.exit("usage: openapi_check.py check < request.json")
    request = json.load(sys.stdin)
    doc = Document(request["document"])
    errors = []
    reached = set()
    for exchange in request["exchanges"]:
        check_exchange(doc, exchange, errors, reached)
    places = documented_places(doc)
    json.dump(
        {
            "errors": errors,
            "uncovered": sorted(places - reached),
            "outcomes": len(places),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
