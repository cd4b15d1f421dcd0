"""The assistant's knowledge as data: workflow templates (``templates/*.json``) and prompts
(``prompts/*.md``), shipped in the package, and BM25 retrieval over the templates.

A template file is ``{"template": {key, name, description, category, complexity, integrations},
"workflow": <a ConnectFlow workflow>}``; every one validates and compiles (tests/assistant checks).
Retrieval is Okapi BM25 in Python over the small library: it needs no server, so it is the same on
SQLite and PostgreSQL (the library is package data, not rows). See docs/decisions.md.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "from",
        "by",
        "into",
        "at",
        "as",
        "is",
        "are",
        "be",
        "it",
        "this",
        "that",
        "then",
        "when",
        "every",
        "each",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "please",
        "want",
        "need",
        "would",
        "like",
        "can",
        "could",
        "should",
        "make",
        "create",
        "build",
        "set",
        "up",
        "workflow",
        "automation",
        "automate",
    ]
)
# A few synonyms users write for what the templates call otherwise.
_SYNONYMS = {
    "mail": "email",
    "gmail": "gmail email",
    "e": "",
    "smtp": "smtp email",
    "cron": "schedule",
    "daily": "schedule daily",
    "hourly": "schedule",
    "weekly": "schedule",
    "morning": "schedule morning",
    "minutes": "schedule",
    "gpt": "openai ai",
    "llm": "ai openai",
    "chatgpt": "openai ai",
    "summarize": "summarise summary ai",
    "summarise": "summarise summary ai",
    "summary": "summary ai",
    "payment": "payment stripe",
    "payments": "payment stripe",
    "form": "form google_forms",
    "forms": "form google_forms",
    "api": "http api",
    "url": "http",
    "instagram": "instagram",
    "image": "image luma",
}


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in _TOKEN.findall(text.lower()):
        if word in _STOP:
            continue
        expanded = _SYNONYMS.get(word)
        out.extend(expanded.split() if expanded is not None else [word])
    return out


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    category: str
    complexity: str
    integrations: tuple[str, ...]
    workflow: dict[str, Any] = field(repr=False)

    @property
    def node_types(self) -> list[str]:
        return [n["type"] for n in self.workflow.get("nodes", [])]

    def text(self) -> str:
        return " ".join(
            [
                self.name,
                self.description,
                self.category,
                " ".join(self.integrations),
                " ".join(t.replace(".", " ") for t in self.node_types),
            ]
        )

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "complexity": self.complexity,
            "integrations": list(self.integrations),
            "node_types": self.node_types,
        }


@dataclass(frozen=True)
class Match:
    template: Template
    score: float


@functools.cache
def templates() -> tuple[Template, ...]:
    out = []
    for entry in sorted(resources.files(__package__).joinpath("templates").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        doc = json.loads(entry.read_text(encoding="utf-8"))
        meta = doc["template"]
        out.append(
            Template(
                key=meta["key"],
                name=meta["name"],
                description=meta["description"],
                category=meta["category"],
                complexity=meta["complexity"],
                integrations=tuple(meta["integrations"]),
                workflow=doc["workflow"],
            )
        )
    return tuple(out)


def template(key: str) -> Template | None:
    return next((t for t in templates() if t.key == key), None)


class BM25:
    """Okapi BM25 (k1 = 1.5, b = 0.75) over a fixed list of documents."""

    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        self.avg = (sum(self.len) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for d in docs:
            df.update(set(d))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: list[str]) -> list[float]:
        out = []
        for tf, length in zip(self.tf, self.len, strict=True):
            s = 0.0
            for term in query:
                f = tf.get(term, 0)
                if f:
                    s += (
                        self.idf[term]
                        * f
                        * (self.k1 + 1)
                        / (f + self.k1 * (1 - self.b + self.b * length / self.avg))
                    )
            out.append(s)
        return out


@functools.cache
def _index() -> BM25:
    return BM25([tokens(t.text()) for t in templates()])


def match_templates(request: str, limit: int = 3, min_score: float = 0.5) -> list[Match]:
    """The templates that best fit ``request``, best first (none when nothing fits)."""
    scores = _index().scores(tokens(request))
    ranked = sorted(zip(templates(), scores, strict=True), key=lambda p: -p[1])
    return [Match(t, round(s, 3)) for t, s in ranked[:limit] if s >= min_score]


PROMPT_NAMES = ("answer", "change", "classify", "generate", "repair")


@functools.cache
def prompt(name: str) -> str:
    """The named prompt (``prompts/<name>.md``)."""
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"bad prompt name {name!r}")
    return resources.files(__package__).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")
