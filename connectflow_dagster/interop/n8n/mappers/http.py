"""HTTP Request, typeVersion 1–3 (``requestMethod``, ``…ParametersUi``) and 4.x (``method``,
``sendQuery``/``sendHeaders``/``sendBody``)."""

from __future__ import annotations

import json
import re
from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable, is_expression
from connectflow_dagster.interop.n8n.js import JsSyntaxError, parse, split_template
from connectflow_dagster.interop.n8n.mappers.base import (
    ExportContext,
    MapContext,
    Mapped,
    View,
    exporter,
    importer,
    renamed,
)

BODY_VIEW = View(kind="prefix", prefix=("data",))
FULL_VIEW = renamed(
    "ConnectFlow's response has status, headers and data",
    statusCode="status",
    body="data",
    headers="headers",
)


def _pairs(ctx: MapContext, items: Any, field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items or []):
        if isinstance(item, dict) and item.get("name") not in (None, ""):
            name = item["name"]
            if is_expression(name):
                raise Untranslatable(f"{field}.{i}: a computed parameter name")
            out[str(name)] = ctx.expr(item.get("value", ""), f"{field}.{i}.value")
    return out


def json_param(ctx: MapContext, value: Any, field: str) -> Any:
    """A JSON parameter (jsonBody, jsonHeaders …): JSON text, ``={{ JSON.stringify(obj) }}``,
    ``={{ obj }}`` or JSON text with ``{{ }}`` inside → a ConnectFlow value (templates inside)."""
    if isinstance(value, dict | list):
        return ctx.expr(value, field)
    text = str(value or "")
    if not is_expression(text):
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            raise Untranslatable(f"{field} is not valid JSON") from None
    try:
        parts = split_template(text[1:])
    except JsSyntaxError as exc:
        raise Untranslatable(f"{field}: {exc}") from None
    if len(parts) == 1 and parts[0][0] == "js":
        source = parts[0][1].strip()
        try:
            tree = parse(source)
        except JsSyntaxError as exc:
            raise Untranslatable(f"{field}: {exc}") from None
        if (
            tree[0] == "call"
            and tree[1] == ("member", ("ident", "JSON"), "stringify", False)
            and len(tree[2]) == 1
        ):
            inner = source[source.index("(") + 1 : source.rindex(")")]
            return ctx.expr("={{ " + inner + " }}", field)
        return ctx.expr(text, field)
    # JSON text with {{ }} inside: each expression becomes a placeholder, the text must then parse
    marks: dict[str, str] = {}
    rebuilt = []
    for kind, segment in parts:
        if kind == "text":
            rebuilt.append(segment)
        else:
            key = f"__cf_expr_{len(marks)}__"
            marks[key] = segment
            rebuilt.append(key)
    bare, quoted_alone = _quote_bare_marks("".join(rebuilt))
    try:
        skeleton = json.loads(bare)
    except ValueError:
        raise Untranslatable(
            f"{field}: JSON with expressions that does not parse once they are filled in"
        ) from None

    def fill(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            return {k: fill(v, f"{where}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, str) and "__cf_expr_" in node:
            if node in quoted_alone:  # a bare {{ }} in JSON: its value, typed
                return ctx.expr("={{ " + marks[node] + " }}", where)
            # inside a JSON string: the text with the values written in
            source = re.sub(r"__cf_expr_\d+__", lambda m: "{{" + marks[m.group(0)] + "}}", node)
            return ctx.expr("=" + source, where)
        return node

    return fill(skeleton, field)


_MARK = re.compile(r"__cf_expr_\d+__")


def _quote_bare_marks(text: str) -> tuple[str, set[str]]:
    """Quote the expression marks that stand outside JSON strings (``{"n": {{ $json.n }}}``) and
    say which they were."""
    out: list[str] = []
    bare: set[str] = set()
    in_string = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            if c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        else:
            m = _MARK.match(text, i)
            if m:
                bare.add(m.group(0))
                out.append(f'"{m.group(0)}"')
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out), bare


@importer("n8n-nodes-base.httpRequest")
def http_request(ctx: MapContext) -> Mapped:
    return _v4(ctx) if ctx.version >= 4 else _v1(ctx)


def _common(ctx: MapContext, params: dict[str, Any], options: dict[str, Any]) -> None:
    if options.get("timeout"):
        params["timeout"] = min(600.0, max(0.001, float(options["timeout"]) / 1000))


def _auth(ctx: MapContext) -> None:
    auth = ctx.get("authentication", default="none")
    if auth not in (None, "none"):
        kind = ctx.get("genericAuthType") or ctx.get("nodeCredentialType") or auth
        ctx.approximate(f"authentication '{kind}' is not carried over: add the header or credential yourself")


def _v4(ctx: MapContext) -> Mapped:
    params: dict[str, Any] = {
        "method": ctx.get("method", default="GET"),
        "url": ctx.expr(ctx.get("url", default=""), "url"),
    }
    _auth(ctx)
    if ctx.get("sendQuery"):
        if ctx.get("specifyQuery", default="keypair") == "json":
            params["query"] = json_param(ctx, ctx.get("jsonQuery", default="{}"), "jsonQuery")
        else:
            params["query"] = _pairs(ctx, ctx.get("queryParameters", "parameters"), "queryParameters")
    if ctx.get("sendHeaders"):
        if ctx.get("specifyHeaders", default="keypair") == "json":
            params["headers"] = json_param(ctx, ctx.get("jsonHeaders", default="{}"), "jsonHeaders")
        else:
            params["headers"] = _pairs(ctx, ctx.get("headerParameters", "parameters"), "headerParameters")
    if ctx.get("sendBody"):
        content = ctx.get("contentType", default="json")
        if content == "json":
            params["body_type"] = "json"
            if ctx.get("specifyBody", default="keypair") == "json":
                params["body"] = json_param(ctx, ctx.get("jsonBody", default=""), "jsonBody")
            else:
                params["body"] = _pairs(ctx, ctx.get("bodyParameters", "parameters"), "bodyParameters")
        elif content in ("form-urlencoded", "multipart-form-data"):
            params["body_type"] = "form"
            params["body"] = _pairs(ctx, ctx.get("bodyParameters", "parameters"), "bodyParameters")
            if content == "multipart-form-data":
                ctx.approximate("multipart body sent as a URL-encoded form")
        elif content == "raw":
            params["body_type"] = "raw"
            params["body"] = ctx.expr(ctx.get("body", default=""), "body")
            raw_type = ctx.get("rawContentType")
            if raw_type:
                params.setdefault("headers", {})["Content-Type"] = ctx.expr(raw_type, "rawContentType")
        else:
            raise Untranslatable(f"body content type '{content}' (binary) is not supported")
    options = ctx.get("options", default={}) or {}
    response = ((options.get("response") or {}).get("response")) or {}
    if response.get("neverError"):
        params["fail_on_error_status"] = False
    if response.get("responseFormat") not in (None, "autodetect", "json"):
        ctx.approximate(f"response format '{response['responseFormat']}' is read by content type")
    _common(ctx, params, options)
    ctx.ignore_options(options, {"timeout", "response"})
    view = FULL_VIEW if response.get("fullResponse") else BODY_VIEW
    return Mapped("http.request", params, view)


def _v1(ctx: MapContext) -> Mapped:
    options = ctx.get("options", default={}) or {}
    params: dict[str, Any] = {
        "method": ctx.get("requestMethod", default="GET"),
        "url": ctx.expr(ctx.get("url", default=""), "url"),
    }
    _auth(ctx)
    if ctx.get("jsonParameters"):
        for src, dst in (("queryParametersJson", "query"), ("headerParametersJson", "headers")):
            if ctx.get(src):
                params[dst] = json_param(ctx, ctx.get(src), src)
        if ctx.get("bodyParametersJson"):
            params["body"] = json_param(ctx, ctx.get("bodyParametersJson"), "bodyParametersJson")
    else:
        query = _pairs(ctx, ctx.get("queryParametersUi", "parameter"), "queryParametersUi")
        headers = _pairs(ctx, ctx.get("headerParametersUi", "parameter"), "headerParametersUi")
        body = _pairs(ctx, ctx.get("bodyParametersUi", "parameter"), "bodyParametersUi")
        if query:
            params["query"] = query
        if headers:
            params["headers"] = headers
        if body:
            params["body"] = body
    if options.get("bodyContentType") == "form-urlencoded":
        params["body_type"] = "form"
    if ctx.get("responseFormat", default="json") not in ("json",):
        ctx.approximate("the response is read by its content type")
    _common(ctx, params, options)
    ctx.ignore_options(options, {"timeout", "fullResponse", "bodyContentType"})
    return Mapped("http.request", params, FULL_VIEW if options.get("fullResponse") else BODY_VIEW)


@exporter("http.request", view=FULL_VIEW)
def http_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    p = node.params
    out: dict[str, Any] = {"method": p.get("method", "GET"), "url": ectx.expression(p.get("url", ""))}

    def pairs(values: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": [{"name": k, "value": ectx.expression(v)} for k, v in values.items()]}

    if p.get("query"):
        out.update(sendQuery=True, queryParameters=pairs(p["query"]))
    if p.get("headers"):
        out.update(sendHeaders=True, headerParameters=pairs(p["headers"]))
    if p.get("body") is not None and p.get("method", "GET") not in ("GET", "HEAD"):
        kind = p.get("body_type", "json")
        if kind == "json":
            body = p["body"]
            out.update(sendBody=True, specifyBody="json")
            out["jsonBody"] = _json_body(body, ectx)
        elif kind == "form":
            out.update(sendBody=True, contentType="form-urlencoded", bodyParameters=pairs(p["body"]))
        else:
            out.update(sendBody=True, contentType="raw", body=ectx.expression(p["body"]))
    options: dict[str, Any] = {}
    if p.get("timeout"):
        options["timeout"] = int(float(p["timeout"]) * 1000)
    # ConnectFlow's output is status + headers + data: n8n's "full response"
    options["response"] = {"response": {"fullResponse": True}}
    if p.get("fail_on_error_status") is False:
        options["response"]["response"]["neverError"] = True
    out["options"] = options
    return "n8n-nodes-base.httpRequest", 4.2, out


def _json_body(body: Any, ectx: ExportContext) -> str:
    converted = ectx.expression(body)
    if isinstance(converted, str) and converted.startswith("="):
        return converted
    if _has_expression(converted):
        return "={{ " + js_literal(converted) + " }}"
    return json.dumps(converted)


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("=")
    if isinstance(value, dict):
        return any(_has_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    return False


def js_literal(value: Any) -> str:
    """A JavaScript object literal whose n8n-expression leaves become their JavaScript."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {js_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(js_literal(v) for v in value) + "]"
    if isinstance(value, str) and value.startswith("="):
        parts = split_template(value[1:])
        if len(parts) == 1 and parts[0][0] == "js":
            return "(" + parts[0][1].strip() + ")"
        return (
            "`"
            + "".join(
                t.replace("`", "\\`").replace("${", "\\${") if k == "text" else "${" + t.strip() + "}"
                for k, t in parts
            )
            + "`"
        )
    return json.dumps(value)
