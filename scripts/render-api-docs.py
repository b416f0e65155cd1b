#!/usr/bin/env python3
"""Renders docs/openapi.yaml as the static page docs/api.html (no JavaScript, no network).

    render-api-docs.py          writes docs/api.html
    render-api-docs.py --check  fails when docs/api.html is not what the document renders to

Needs PyYAML: run it with the interop venv's Python (target/interop-venv/bin/python, made by
scripts/test-setup.sh). The page lists every endpoint with its roles, transport, decrypted
request and response schemas as tables, its answers by HTTP code with their exact messages,
and the CORS headers; the introduction is the document's own description.
"""

import html
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "docs" / "openapi.yaml"
TARGET = ROOT / "docs" / "api.html"
METHODS = ("get", "post", "options")

TRANSPORTS = {
    "envelope": "v2 envelope: base64 text, or binary with <code>application/octet-stream</code>",
    "refresh": "plain refresh token in; answer sealed with <code>refresh_response_key</code>",
    "client-generate": "browser SDK request (ECDH); answer sealed with the shared secret",
    "plain": "plain: not encrypted",
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1b1f24;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}
h3{margin:1.6rem 0 .4rem}h4{margin:1rem 0 .3rem;color:#424a53}
code{background:#f1f3f5;padding:.05rem .3rem;border-radius:3px;font-size:.9em}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.op{border:1px solid #d0d7de;border-radius:6px;padding:.2rem 1rem 1rem;margin:1.2rem 0}
.method{display:inline-block;font-weight:700;color:#fff;border-radius:4px;padding:.05rem .45rem;margin-right:.4rem;font-size:.85rem}
.post{background:#1a7f37}.get{background:#0969da}.options{background:#8250df}
.meta{color:#424a53;margin:.2rem 0}.muted{color:#656d76}
nav ul{columns:2}
"""


def esc(text):
    return html.escape(str(text), quote=True)


def inline(text):
    """Markdown-ish `code` and **bold** of the document's descriptions, escaped."""
    out = esc(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def paragraphs(text):
    """The document's description: paragraphs and `- ` lists."""
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        if all(l.startswith(("- ", "  ")) for l in lines):
            items, current = [], []
            for line in lines:
                if line.startswith("- ") and current:
                    items.append(" ".join(current))
                    current = []
                current.append(line[2:].strip() if line.startswith("- ") else line.strip())
            items.append(" ".join(current))
            blocks.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
        else:
            blocks.append(f"<p>{inline(' '.join(l.strip() for l in lines))}</p>")
    return "\n".join(blocks)


class Renderer:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            target = self.doc
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def merged(self, schema):
        """A schema with a `$ref` and siblings, as one (the siblings refine the target)."""
        schema = self.resolve(schema)
        if isinstance(schema, dict) and "$ref" in schema:
            base = dict(self.merged({"$ref": schema["$ref"]}))
            props = dict(base.get("properties", {}))
            for name, sub in schema.get("properties", {}).items():
                props[name] = {**self.merged(props.get(name, {})), **sub}
            base.update({k: v for k, v in schema.items() if k not in ("$ref", "properties")})
            base["properties"] = props
            return base
        return schema

    def type_of(self, schema):
        schema = self.merged(schema)
        if "const" in schema:
            return f"<code>{esc(yaml_scalar(schema['const']))}</code>"
        if "enum" in schema:
            return "one of " + ", ".join(f"<code>{esc(v)}</code>" for v in schema["enum"])
        if "oneOf" in schema and "type" not in schema and "properties" not in schema:
            return " or ".join(self.type_of(b) for b in schema["oneOf"])
        if "pattern" in schema and "type" not in schema:
            return f"text matching <code>{esc(schema['pattern'])}</code>"
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = " or ".join(kind)
        if kind == "array":
            return f"array of {self.type_of(schema.get('items', {}))}"
        if kind is None and "properties" in schema:
            kind = "object"
        text = kind or "any JSON value"
        if "minLength" in schema and schema.get("minLength") == schema.get("maxLength"):
            text += f" ({schema['minLength']} characters)"
        if "pattern" in schema:
            text += f" matching <code>{esc(schema['pattern'])}</code>"
        if "maxItems" in schema:
            text += f", at most {schema['maxItems']}"
        return text

    def rows(self, schema, prefix, out):
        schema = self.merged(schema)
        required = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():
            sub_m = self.merged(sub)
            path = f"{prefix}{name}"
            out.append(
                f"<tr><td><code>{esc(path)}</code></td><td>{self.type_of(sub)}</td>"
                f"<td>{'yes' if name in required else 'no'}</td>"
                f"<td>{inline(sub_m.get('description', ''))}</td></tr>"
            )
            if "properties" in sub_m:
                self.rows(sub_m, f"{path}.", out)
            items = self.merged(sub_m.get("items", {}))
            if "properties" in items:
                self.rows(items, f"{path}[].", out)
            for i, branch in enumerate(items.get("oneOf", [])):
                branch = self.merged(branch)
                if "properties" in branch:
                    out.append(
                        f"<tr><td colspan=4 class=muted>{esc(path)}[] as "
                        f"{esc(branch.get('title', f'form {i + 1}'))}:</td></tr>"
                    )
                    self.rows(branch, f"{path}[].", out)

    def table(self, schema, request=False):
        schema = self.merged(schema)
        out = []
        self.rows(schema, "", out)
        intro = f"<p>{inline(schema['description'])}</p>" if schema.get("description") else ""
        extra = ""
        if "oneOf" in schema and "properties" in schema and "xactly one" not in intro:
            choices = [
                " + ".join(f"<code>{esc(f)}</code>" for f in b.get("required", []))
                for b in schema["oneOf"]
            ]
            extra = f"<p>Exactly one of: {', '.join(choices)}.</p>"
        if not out:
            return intro + extra + f"<p>{self.type_of(schema)}</p>"
        return (
            intro
            + extra
            + f"<table><tr><th>field</th><th>type</th><th>{'required' if request else 'always sent'}</th><th>meaning</th></tr>"
            + "".join(out)
            + "</table>"
        )

    def outcomes(self, schema):
        """The branches of a decrypted response, each with its table."""
        parts = []
        for branch in self.resolve(schema).get("oneOf", [schema]):
            b = self.merged(branch)
            status = self.merged(b.get("properties", {}).get("status", {})).get("const", "")
            title = b.get("title", status)
            parts.append(f"<h4><code>status: {esc(status)}</code> ({esc(title)})</h4>")
            parts.append(self.table(b))
        return "\n".join(parts)

    def error_rows(self, code, schema):
        rows = []
        schema = self.resolve(schema)
        for branch in schema.get("oneOf", [schema]):
            b = self.merged(branch)
            props = b.get("properties", {})
            status = self.merged(props.get("status", {})).get("const", "")
            message = self.merged(props.get("message", {})) if "message" in props else None
            if message is None:
                texts = ["(no message)"]
            elif "oneOf" in message:
                texts = [self.message_text(m) for m in message["oneOf"]]
            else:
                texts = [self.message_text(message)]
            title = b.get("title", "")
            note = b.get("description") or (title if title != status else "")
            for text in texts:
                rows.append(
                    f"<tr><td>{esc(code)}</td><td><code>{esc(status)}</code></td>"
                    f"<td>{text}</td><td>{inline(note)}</td></tr>"
                )
        return rows

    def message_text(self, schema):
        schema = self.merged(schema)
        if "const" in schema:
            return f"<code>{esc(schema['const'])}</code>"
        if "pattern" in schema:
            return f"matching <code>{esc(schema['pattern'])}</code>"
        return esc(schema.get("type", ""))

    def headers(self, response):
        rows = []
        for name, header in response.get("headers", {}).items():
            header = self.resolve(header)
            schema = header.get("schema", {})
            value = (
                f"<code>{esc(schema['const'])}</code>" if "const" in schema else inline(header.get("description", ""))
            )
            rows.append(f"<code>{esc(name)}: </code>{value}")
        return "<br>".join(rows)

    def operation(self, path, method, op):
        anchor = op.get("operationId", f"{method}-{path}")
        roles = op.get("x-euid-roles", [])
        roles_text = ", ".join(f"<code>{esc(r)}</code>" for r in roles) or "none (no API key)"
        transport = op.get("x-euid-transport", "plain")
        parts = [
            f'<div class=op id="{esc(anchor)}">',
            f'<h3><span class="method {method}">{method.upper()}</span><code>{esc(path)}</code></h3>',
            f"<p><strong>{inline(op.get('summary', ''))}</strong></p>",
        ]
        if op.get("description"):
            parts.append(paragraphs(op["description"]))
        parts.append(
            f"<p class=meta>Roles (any one): {roles_text}<br>Transport: "
            f"<code>{esc(transport)}</code>: {TRANSPORTS.get(transport, '')}"
            + ("<br>CORS: any origin (browser endpoint)" if op.get("x-euid-cors") else "")
            + "</p>"
        )
        if "x-euid-decrypted-request" in op:
            sealed = "<code>payload</code>" if transport == "client-generate" else "the envelope"
            parts.append(f"<h4>Request JSON (sealed into {sealed})</h4>")
            parts.append(self.table(op["x-euid-decrypted-request"], request=True))
        body = op.get("requestBody")
        if body and transport != "envelope":
            body = self.resolve(body)
            for media, content in body.get("content", {}).items():
                parts.append(f"<h4>Request body (<code>{esc(media)}</code>)</h4>")
                parts.append(self.table(content.get("schema", {}), request=True))
        rows = []
        for code, response in op["responses"].items():
            response = self.resolve(response)
            if "x-euid-decrypted-response" in response:
                parts.append(f"<h4>{esc(code)}: answer JSON (decrypted)</h4>")
                parts.append(self.outcomes(response["x-euid-decrypted-response"]))
                if response.get("headers"):
                    parts.append(f"<p class=meta>Headers: {self.headers(response)}</p>")
                continue
            json_schema = response.get("content", {}).get("application/json", {}).get("schema")
            if json_schema is not None:
                rows.extend(self.error_rows(code, json_schema))
            else:
                media = ", ".join(f"<code>{esc(m)}</code>" for m in response.get("content", {}))
                parts.append(f"<h4>{esc(code)}: {inline(response.get('description', ''))}</h4>")
                if media:
                    parts.append(f"<p>Body: {media}</p>")
                if response.get("headers"):
                    parts.append(f"<p class=meta>{self.headers(response)}</p>")
        if rows:
            parts.append("<h4>Errors (plain JSON)</h4>")
            parts.append(
                "<table><tr><th>HTTP</th><th><code>status</code></th><th><code>message</code></th><th>note</th></tr>"
                + "".join(rows)
                + "</table>"
            )
            cors = [self.resolve(r) for r in op["responses"].values()]
            if any(r.get("headers") for r in cors):
                parts.append("<p class=meta>Every answer carries " + self.headers(cors[-1]) + "</p>")
        parts.append("</div>")
        return "\n".join(parts)

    def page(self):
        info = self.doc["info"]
        ops = [
            (path, method, item[method])
            for path, item in self.doc["paths"].items()
            for method in METHODS
            if method in item
        ]
        nav = "".join(
            f'<li><a href="#{esc(op.get("operationId"))}">{method.upper()} <code>{esc(path)}</code></a>'
            f' <span class=muted>{", ".join(op.get("x-euid-roles", [])) or "no key"}</span></li>'
            for path, method, op in ops
        )
        unknown = self.doc["x-euid-unknown-path"]
        unknown_rows = self.error_rows(unknown["status"], unknown["content"]["application/json"]["schema"])
        body = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(info['title'])} {esc(info['version'])}</title>",
            f"<style>{CSS}</style></head><body>",
            "<!-- Generated by scripts/render-api-docs.py from docs/openapi.yaml: do not edit. -->",
            f"<h1>{esc(info['title'])}</h1>",
            f"<p class=muted>Version {esc(info['version'])} · OpenAPI {esc(self.doc['openapi'])} · "
            f"source: <a href=\"openapi.yaml\">openapi.yaml</a> (also served at <code>GET /openapi.yaml</code>)</p>",
            f"<p><strong>{inline(info.get('summary', ''))}</strong></p>",
            "<h2>Endpoints</h2>",
            f"<nav><ul>{nav}</ul></nav>",
            "<h2>Reading this reference</h2>",
            paragraphs(info["description"]),
            "<h4>Unknown paths</h4>",
            "<table><tr><th>HTTP</th><th><code>status</code></th><th><code>message</code></th><th>note</th></tr>"
            + "".join(unknown_rows)
            + "</table>",
            "<h2>Endpoint reference</h2>",
        ]
        body.extend(self.operation(path, method, op) for path, method, op in ops)
        body.append("</body></html>")
        return "\n".join(body) + "\n"


def yaml_scalar(value):
    return value if isinstance(value, str) else yaml.safe_dump(value).strip().removesuffix("...").strip()


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        sys.exit("usage: render-api-docs.py [--check]")
    with open(SOURCE, encoding="utf-8") as f:
        page = Renderer(yaml.safe_load(f)).page()
    if check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != page:
            sys.exit(
                "docs/api.html is stale: run target/interop-venv/bin/python scripts/render-api-docs.py"
            )
        print("docs/api.html is current", file=sys.stderr)
        return
    TARGET.write_text(page, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
