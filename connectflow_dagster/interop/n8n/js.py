"""A parser for the JavaScript found in n8n expressions (``{{ … }}``): tokens → a small AST.

It covers what n8n expressions are made of (member chains, calls, literals, object/array literals,
template literals, unary/binary/logical/ternary operators, arrow functions) so the importer can
decide, per expression, whether it translates *exactly* to a ConnectFlow template. It never runs
anything; anything it cannot parse is simply "not translatable". Bounded: an expression longer than
``MAX_SOURCE`` or nested deeper than ``MAX_DEPTH`` is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_SOURCE = 20_000
MAX_DEPTH = 60


class JsSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Tok:
    kind: str  # num, str, tmpl, ident, punct, end
    value: Any


_PUNCT = sorted(
    [
        "===", "!==", "...", "?.", "??", "=>", "==", "!=", "<=", ">=", "&&", "||",
        ".", "(", ")", "[", "]", "{", "}", ",", ":", "?", "!", "<", ">", "+", "-", "*", "/", "%",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_NUM = re.compile(r"(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _read_string(src: str, i: int, quote: str) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(src):
        c = src[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i >= len(src):
                break
            e = src[i]
            if e == "u" and src[i + 1 : i + 5].isalnum() and len(src[i + 1 : i + 5]) == 4:
                out.append(chr(int(src[i + 1 : i + 5], 16)))
                i += 5
                continue
            out.append(_ESCAPES.get(e, e))
            i += 1
            continue
        if c == "\n" and quote != "`":
            break
        out.append(c)
        i += 1
    raise JsSyntaxError("unterminated string")


def tokenize(src: str) -> list[Tok]:
    if len(src) > MAX_SOURCE:
        raise JsSyntaxError("expression too long")
    toks: list[Tok] = []
    i = 0
    while i < len(src):
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if c in "'\"":
            text, i = _read_string(src, i, c)
            toks.append(Tok("str", text))
            continue
        if c == "`":
            toks.append(Tok("tmpl", _read_template(src, i)))
            i = toks[-1].value[2]
            continue
        m = _NUM.match(src, i)
        if m and (c.isdigit() or (c == "." and i + 1 < len(src) and src[i + 1].isdigit())):
            text = m.group(0)
            toks.append(Tok("num", int(text, 16) if text[:2].lower() == "0x" else _number(text)))
            i = m.end()
            continue
        m = _IDENT.match(src, i)
        if m:
            toks.append(Tok("ident", m.group(0)))
            i = m.end()
            continue
        for p in _PUNCT:
            if src.startswith(p, i):
                # "?." followed by a digit is a ternary and a number (a?.5:1)
                if p == "?." and i + 2 < len(src) and src[i + 2].isdigit():
                    continue
                toks.append(Tok("punct", p))
                i += len(p)
                break
        else:
            raise JsSyntaxError(f"unexpected character {c!r}")
    toks.append(Tok("end", None))
    return toks


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _read_template(src: str, i: int) -> tuple[list[str], list[str], int]:
    """A template literal starting at ``src[i] == '`'``: (quasis, expression sources, end index)."""
    quasis: list[str] = []
    exprs: list[str] = []
    buf: list[str] = []
    i += 1
    while i < len(src):
        c = src[i]
        if c == "`":
            quasis.append("".join(buf))
            return quasis, exprs, i + 1
        if c == "\\" and i + 1 < len(src):
            buf.append(_ESCAPES.get(src[i + 1], src[i + 1]))
            i += 2
            continue
        if c == "$" and src.startswith("${", i):
            quasis.append("".join(buf))
            buf = []
            depth, j = 1, i + 2
            while j < len(src) and depth:
                if src[j] in "'\"`":
                    j = _read_string(src, j, src[j])[1] if src[j] != "`" else _read_template(src, j)[2]
                    continue
                depth += {"{": 1, "}": -1}.get(src[j], 0)
                j += 1
            if depth:
                break
            exprs.append(src[i + 2 : j - 1])
            i = j
            continue
        buf.append(c)
        i += 1
    raise JsSyntaxError("unterminated template literal")


# ---- parser: tuples ("kind", …) ----------------------------------------------------------------------

_BINARY = {
    "??": 1,
    "||": 2,
    "&&": 3,
    "==": 6, "!=": 6, "===": 6, "!==": 6,
    "<": 7, ">": 7, "<=": 7, ">=": 7,
    "+": 9, "-": 9,
    "*": 10, "/": 10, "%": 10,
}  # fmt: skip


class Parser:
    def __init__(self, src: str):
        self.toks = tokenize(src)
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Tok:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def next(self) -> Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok.kind == "punct" and tok.value == value:
            self.next()
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise JsSyntaxError(f"expected {value!r}, found {self.peek().value!r}")

    def parse(self) -> tuple:
        node = self.expression()
        if self.peek().kind != "end":
            raise JsSyntaxError(f"unexpected {self.peek().value!r}")
        return node

    def expression(self) -> tuple:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise JsSyntaxError("expression nested too deeply")
        try:
            if self._arrow_ahead():
                return self.arrow()
            test = self.binary(0)
            if self.accept("?"):
                then = self.expression()
                self.expect(":")
                return ("cond", test, then, self.expression())
            return test
        finally:
            self.depth -= 1

    def _arrow_ahead(self) -> bool:
        tok = self.peek()
        if tok.kind == "ident" and self.peek(1) == Tok("punct", "=>"):
            return True
        if tok == Tok("punct", "("):
            j = 1
            while self.peek(j).kind == "ident" or self.peek(j) == Tok("punct", ","):
                j += 1
            return self.peek(j) == Tok("punct", ")") and self.peek(j + 1) == Tok("punct", "=>")
        return False

    def arrow(self) -> tuple:
        params = []
        if self.peek().kind == "ident":
            params.append(self.next().value)
        else:
            self.expect("(")
            while not self.accept(")"):
                params.append(self.next().value)
                self.accept(",")
        self.expect("=>")
        if self.peek() == Tok("punct", "{"):
            raise JsSyntaxError("arrow functions with a block body are not parsed")
        return ("arrow", tuple(params), self.expression())

    def binary(self, min_prec: int) -> tuple:
        left = self.unary()
        while True:
            tok = self.peek()
            prec = _BINARY.get(tok.value) if tok.kind == "punct" else None
            if prec is None or prec <= min_prec - 1 or prec < min_prec:
                return left
            self.next()
            right = self.binary(prec + 1)
            left = ("bin", tok.value, left, right)

    def unary(self) -> tuple:
        tok = self.peek()
        if tok.kind == "punct" and tok.value in ("!", "-", "+"):
            self.next()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise JsSyntaxError("expression nested too deeply")
            try:
                return ("unary", tok.value, self.unary())
            finally:
                self.depth -= 1
        if tok.kind == "ident" and tok.value == "typeof":
            self.next()
            return ("unary", "typeof", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: tuple) -> tuple:
        while True:
            if self.accept("."):
                name = self.next()
                if name.kind != "ident":
                    raise JsSyntaxError("expected a property name")
                node = ("member", node, name.value, False)
            elif self.accept("?."):
                if self.accept("("):
                    node = ("call", node, self.arguments(), True)
                elif self.accept("["):
                    key = self.expression()
                    self.expect("]")
                    node = ("index", node, key, True)
                else:
                    node = ("member", node, self.next().value, True)
            elif self.accept("["):
                key = self.expression()
                self.expect("]")
                node = ("index", node, key, False)
            elif self.accept("("):
                node = ("call", node, self.arguments(), False)
            else:
                return node

    def arguments(self) -> tuple:
        args = []
        while not self.accept(")"):
            args.append(self.expression())
            if not self.accept(","):
                self.expect(")")
                break
        return tuple(args)

    def primary(self) -> tuple:
        tok = self.next()
        if tok.kind == "num":
            return ("num", tok.value)
        if tok.kind == "str":
            return ("str", tok.value)
        if tok.kind == "tmpl":
            quasis, sources, _ = tok.value
            return ("tmpl", tuple(quasis), tuple(parse(s) for s in sources))
        if tok.kind == "ident":
            if tok.value in ("true", "false"):
                return ("bool", tok.value == "true")
            if tok.value == "null":
                return ("null",)
            if tok.value == "undefined":
                return ("undefined",)
            if tok.value == "new":
                callee = self.postfix(self.primary())
                return ("new", callee)
            return ("ident", tok.value)
        if tok == Tok("punct", "("):
            node = self.expression()
            self.expect(")")
            return ("paren", node)
        if tok == Tok("punct", "["):
            items = []
            while not self.accept("]"):
                items.append(self.expression())
                if not self.accept(","):
                    self.expect("]")
                    break
            return ("arr", tuple(items))
        if tok == Tok("punct", "{"):
            entries = []
            while not self.accept("}"):
                key = self.next()
                if key.kind not in ("ident", "str", "num"):
                    raise JsSyntaxError("unsupported object key")
                if self.accept(":"):
                    entries.append((str(key.value), self.expression()))
                else:  # shorthand {a}
                    entries.append((str(key.value), ("ident", key.value)))
                if not self.accept(","):
                    self.expect("}")
                    break
            return ("obj", tuple(entries))
        raise JsSyntaxError(f"unexpected {tok.value!r}")


def parse(src: str) -> tuple:
    """The AST of one JavaScript expression; ``JsSyntaxError`` when it is not one we can read."""
    try:
        return Parser(src).parse()
    except RecursionError:
        raise JsSyntaxError("expression nested too deeply") from None


# ---- n8n parameter values: "=text {{ js }} text" -----------------------------------------------------


def split_template(text: str) -> list[tuple[str, str]]:
    """An n8n expression value (without its leading ``=``) as ("text", …) and ("js", …) segments.

    The end of a ``{{ … }}`` is the first ``}}`` outside strings and braces, as n8n's own splitter
    finds it."""
    parts: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        start = text.find("{{", i)
        if start < 0:
            parts.append(("text", text[i:]))
            break
        if start > i:
            parts.append(("text", text[i:start]))
        j = start + 2
        depth = 0
        quote = ""
        while j < len(text):
            c = text[j]
            if quote:
                if c == "\\":
                    j += 2
                    continue
                if c == quote:
                    quote = ""
            elif c in "'\"`":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                if depth == 0 and text.startswith("}}", j):
                    break
                depth -= 1
            j += 1
        if j >= len(text):
            raise JsSyntaxError("'{{' without a closing '}}'")
        parts.append(("js", text[start + 2 : j]))
        i = j + 2
    return parts
