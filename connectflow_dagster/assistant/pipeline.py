"""A request in, an answer out: classify → match templates → generate (structured output) →
validate + dry compile → repair rounds → answer with the workflow, an explanation and the
credentials to pick.

Without a configured model the pipeline still answers: the rules-based classifier, the best
template as a draft, and a message saying generation needs a provider key.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from connectflow_dagster import spec
from connectflow_dagster.assistant import library
from connectflow_dagster.assistant.llm import AssistantModelError, Endpoint, ModelConfig, Reply, complete
from connectflow_dagster.errors import Problem
from connectflow_dagster.registry import NodeRegistry, get_registry

Intent = Literal["workflow_request", "change_request", "question"]
MAX_REQUEST_CHARS = 8_000
NO_MODEL_MESSAGE = (
    "Generating a workflow needs an AI provider: set CONNECTFLOW_ASSISTANT_MODEL (and "
    "CONNECTFLOW_ASSISTANT_API_KEY) on the server. Meanwhile, here is the closest template as a draft."
)
_QUESTION_START = re.compile(
    r"^\s*(how|what|why|which|where|who|does|do|is|are|should|explain)\b", re.IGNORECASE
)
_CHANGE_VERB = re.compile(r"\b(add|remove|delete|replace|change|rename|insert|move|swap|instead)\b", re.I)
_CRON = re.compile(r"(?<!\S)((?:[\d*/,-]+\s+){4}[\d*/,-]+)(?!\S)")


@dataclass
class Classification:
    intent: Intent
    confidence: float
    entities: dict[str, Any]
    by: str  # "rules" or the model


@dataclass
class GenerationRecord:
    """One model call, as the generation log keeps it."""

    purpose: str  # classify | generate | repair | answer
    prompt: str
    result: str
    model: str
    status: str  # ok | invalid | error
    latency_ms: int
    tokens: int


@dataclass
class Answer:
    intent: Intent
    confidence: float
    entities: dict[str, Any]
    message: str
    workflow: dict[str, Any] | None = None
    explanation: str = ""
    credentials_needed: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    valid: bool = False
    templates: list[dict[str, Any]] = field(default_factory=list)
    source: str = "none"  # model | template | none
    model: str | None = None
    tokens: int = 0
    latency_ms: int = 0
    repairs: int = 0
    diff: dict[str, Any] | None = None  # a change request: what changed against the current workflow
    generations: list[GenerationRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("generations")
        return data


_PROMPTS: ContextVar[Mapping[str, str] | None] = ContextVar("assistant_prompts", default=None)


def _prompt(name: str) -> str:
    """The named prompt: an administrator's edited version when ``assist`` was given one, else the
    package's ``prompts/<name>.md``."""
    return (_PROMPTS.get() or {}).get(name) or library.prompt(name)


# ---- classification ------------------------------------------------------------------------------------


def _known_services() -> set[str]:
    out: set[str] = set()
    for t in library.templates():
        out.update(t.integrations)
    return out | {
        "http",
        "webhook",
        "schedule",
        "anthropic",
        "gemini",
        "email",
        "sheets",
        "notion",
        "telegram",
    }


def extract_entities(request: str) -> dict[str, Any]:
    words = set(re.findall(r"[a-z0-9_]+", request.lower()))
    services = sorted(s for s in _known_services() if s in words or s.replace("_", " ") in request.lower())
    triggers = [
        t
        for t, keys in {
            "schedule": ("every", "daily", "hourly", "weekly", "cron", "morning", "schedule"),
            "webhook": ("webhook",),
            "stripe": ("stripe", "payment"),
            "google_form": ("form",),
            "manual": ("manually", "button"),
        }.items()
        if any(k in words for k in keys)
    ]
    cron = _CRON.search(request)
    fields = re.findall(r"[\"'`]([A-Za-z_][A-Za-z0-9_ ]{0,40})[\"'`]", request)
    return {
        "services": services,
        "triggers": triggers,
        "schedule": cron.group(1) if cron else None,
        "fields": fields,
    }


def classify_by_rules(request: str, has_current: bool) -> Classification:
    entities = extract_entities(request)
    text = request.strip()
    if has_current and _CHANGE_VERB.search(text):
        return Classification("change_request", 0.7, entities, "rules")
    if _QUESTION_START.match(text) or (text.endswith("?") and not entities["services"]):
        return Classification("question", 0.75 if text.endswith("?") else 0.6, entities, "rules")
    return Classification(
        "workflow_request", 0.6 if entities["services"] or entities["triggers"] else 0.4, entities, "rules"
    )


def classify(
    request: str, has_current: bool, config: ModelConfig, log: list[GenerationRecord]
) -> Classification:
    fallback = classify_by_rules(request, has_current)
    if config.classifier is None:
        return fallback
    messages = [
        {"role": "system", "content": _prompt("classify")},
        {"role": "user", "content": f"Current workflow given: {'yes' if has_current else 'no'}\n\n{request}"},
    ]
    try:
        reply = complete(
            config.classifier, None, messages, timeout=config.timeout, response_format={"type": "json_object"}
        )
    except AssistantModelError as exc:
        log.append(GenerationRecord("classify", request, str(exc), config.classifier.model, "error", 0, 0))
        return fallback
    try:
        data = json.loads(_strip_fence(reply.text))
        intent = data["intent"]
        if intent not in ("workflow_request", "change_request", "question"):
            raise ValueError(intent)
        if intent == "change_request" and not has_current:
            intent = "workflow_request"
        confidence = min(1.0, max(0.0, float(data.get("confidence", 0.5))))
        entities = {**fallback.entities, **{k: v for k, v in (data.get("entities") or {}).items() if v}}
    except (ValueError, KeyError, TypeError):
        log.append(_record("classify", request, reply, "invalid"))
        return fallback
    log.append(_record("classify", request, reply, "ok"))
    return Classification(intent, confidence, entities, reply.model)


# ---- generation ----------------------------------------------------------------------------------------


def _record(purpose: str, prompt: str, reply: Reply, status: str) -> GenerationRecord:
    return GenerationRecord(
        purpose,
        prompt,
        reply.text,
        reply.model,
        status,
        reply.latency_ms,
        reply.prompt_tokens + reply.completion_tokens,
    )


def _strip_fence(text: str) -> str:
    text = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    return fenced.group(1) if fenced else text


def _type_hint(prop: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> str:
    """A compact type for the prompt: enum values, scalar types, an object's fields."""
    if "$ref" in prop:
        target = defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
        if depth < 1 and target.get("properties"):
            return "{" + ", ".join(target["properties"]) + "}"
        return "object"
    if "enum" in prop:
        return "|".join(str(v) for v in prop["enum"])
    if "anyOf" in prop:
        hints = [_type_hint(p, defs, depth) for p in prop["anyOf"] if p.get("type") != "null"]
        return "/".join(h for h in hints if h) or "any"
    if prop.get("type") == "array":
        return f"[{_type_hint(prop.get('items') or {}, defs, depth)}]"
    return str(prop.get("type", "any"))


def node_catalogue(registry: NodeRegistry) -> str:
    """One line per usable node type: its name, what it does, its params with a compact type
    (required ones marked *), its outputs when it has several."""
    lines = []
    for nt in sorted(registry.all(), key=lambda t: t.type):
        if nt.type.startswith("n8n.") or getattr(nt, "enabled", True) is False:
            continue
        schema = nt.params.model_json_schema()
        required = set(schema.get("required", []))
        defs = schema.get("$defs", {})
        params = ", ".join(
            f"{name}{'*' if name in required else ''}: {_type_hint(prop, defs)}"
            for name, prop in schema.get("properties", {}).items()
        )
        desc = " ".join((nt.description or "").split())[:160]
        lines.append(f"- {nt.type}: {desc} Params: {params or '-'}")
    return "\n".join(lines)


def workflow_response_format() -> dict[str, Any]:
    """Structured output: the workflow JSON Schema from ``spec``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "connectflow_workflow", "schema": spec.json_schema(), "strict": False},
    }


def check(
    workflow_data: Any, registry: NodeRegistry
) -> tuple[spec.Workflow | None, list[Problem], list[dict[str, str]]]:
    """Validate and dry-compile: (workflow, problems to repair, credentials the user must pick).

    A missing credential is not the model's to fix: the node's credential is reported as one to pick,
    and the dry compile runs with a placeholder in its place."""
    from connectflow_dagster.compiler import compile_problems

    try:
        workflow = spec.parse_workflow(workflow_data)
    except spec.WorkflowInvalid as exc:
        return None, list(exc.problems), []
    needed: list[dict[str, str]] = []
    trial = workflow.model_copy(deep=True)
    for node in trial.nodes:
        try:
            nt = registry.get(node.type, node.type_version)
        except KeyError:
            continue
        if nt.credential is not None and not node.credential_id:
            needed.append(
                {
                    "node_id": node.id,
                    "node_name": node.name,
                    "credential_type": nt.credential.type,
                    "display_name": nt.credential.display_name,
                }
            )
            node.credential_id = "to_be_chosen"
    problems = spec.validate(trial, registry)
    if not problems:
        problems = compile_problems(trial, registry=registry)
    return workflow, problems, needed


def explain(workflow: spec.Workflow, registry: NodeRegistry, needed: list[dict[str, str]]) -> str:
    order = {nid: i for i, nid in enumerate(workflow.topological_order())}
    steps: list[str] = []
    for node in sorted(workflow.nodes, key=lambda n: order.get(n.id, 0)):
        try:
            what = registry.get(node.type, node.type_version).display_name or node.type
        except KeyError:
            what = node.type
        steps.append(f"{len(steps) + 1}. {node.name} ({what})")
    text = f"'{workflow.name}' has {len(workflow.nodes)} steps:\n" + "\n".join(steps)
    if needed:
        text += "\n\nBefore it runs, pick credentials for: " + ", ".join(
            f"{c['node_name']} ({c['display_name']})" for c in needed
        )
    return text


def generate(
    request: str,
    config: ModelConfig,
    registry: NodeRegistry,
    matches: list[library.Match],
    log: list[GenerationRecord],
    current: dict[str, Any] | None = None,
) -> tuple[
    dict[str, Any] | None, spec.Workflow | None, list[Problem], list[dict[str, str]], int, Reply | None
]:
    """Generate and repair: (raw data, workflow, problems left, credentials, repairs, last reply)."""
    assert config.generator is not None
    hint = ""
    if matches:
        best = matches[0].template
        hint = f"A similar, valid template (adapt it, don't copy blindly):\n{json.dumps(best.workflow)}"
    system = (
        _prompt("generate").replace("{node_types}", node_catalogue(registry)).replace("{template_hint}", hint)
    )
    messages = [{"role": "system", "content": system}]
    if current is not None:
        messages.append(
            {"role": "system", "content": _prompt("change").replace("{current}", json.dumps(current))}
        )
    messages.append({"role": "user", "content": request})
    data: Any = None
    workflow: spec.Workflow | None = None
    problems: list[Problem] = []
    needed: list[dict[str, str]] = []
    reply: Reply | None = None
    repairs = 0
    for attempt in range(config.max_repairs + 1):
        purpose = "generate" if attempt == 0 else "repair"
        reply = complete(
            config.generator,
            config.fallback,
            messages,
            timeout=config.timeout,
            response_format=workflow_response_format(),
        )
        repairs = attempt
        try:
            data = json.loads(_strip_fence(reply.text))
            if not isinstance(data, dict):
                raise ValueError("the answer is not a JSON object")
            data.pop("id", None)
            workflow, problems, needed = check(data, registry)
        except ValueError as exc:
            data, workflow, needed = None, None, []
            problems = [Problem(f"the answer is not valid JSON: {exc}")]
        log.append(_record(purpose, messages[-1]["content"], reply, "ok" if not problems else "invalid"))
        if not problems:
            break
        messages.append({"role": "assistant", "content": reply.text[:20_000]})
        messages.append(
            {
                "role": "user",
                "content": _prompt("repair").replace("{problems}", "\n".join(f"- {p}" for p in problems)),
            }
        )
    return data, workflow, problems, needed, repairs, reply


def diff_workflows(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What a change request changes: nodes added / removed / changed (with the fields that differ),
    edges added / removed. Nodes are matched by id."""

    def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {n["id"]: n for n in wf.get("nodes", []) if isinstance(n, dict) and "id" in n}

    def edges(wf: dict[str, Any]) -> set[tuple[str, str, str | None]]:
        return {
            (str(e.get("source")), str(e.get("target")), e.get("source_handle"))
            for e in wf.get("edges", [])
            if isinstance(e, dict)
        }

    old, new = nodes(before), nodes(after)
    changed = []
    for node_id in sorted(old.keys() & new.keys()):
        fields = sorted(
            k
            for k in old[node_id].keys() | new[node_id].keys()
            if k != "position" and old[node_id].get(k) != new[node_id].get(k)
        )
        if fields:
            changed.append({"id": node_id, "fields": fields})
    old_e, new_e = edges(before), edges(after)

    def edge_list(items: set[tuple[str, str, str | None]]) -> list[dict[str, Any]]:
        return [{"source": s, "target": t, "source_handle": h} for s, t, h in sorted(items, key=str)]

    return {
        "added_nodes": [new[i] for i in new if i not in old],
        "removed_nodes": [old[i] for i in old if i not in new],
        "changed_nodes": changed,
        "added_edges": edge_list(new_e - old_e),
        "removed_edges": edge_list(old_e - new_e),
    }


# ---- the whole pipeline --------------------------------------------------------------------------------


def assist(
    request: str,
    config: ModelConfig,
    *,
    current: dict[str, Any] | None = None,
    registry: NodeRegistry | None = None,
    prompts: Mapping[str, str] | None = None,
) -> Answer:
    """Answer one message. ``prompts`` overrides named prompts (the administrators' edits).
    Raises ``ValueError`` for a request that is empty or too long."""
    token = _PROMPTS.set(prompts or {})
    try:
        return _assist(request, config, current, registry)
    finally:
        _PROMPTS.reset(token)


def _assist(
    request: str, config: ModelConfig, current: dict[str, Any] | None, registry: NodeRegistry | None
) -> Answer:
    request = request.strip()
    if not request:
        raise ValueError("the message is empty")
    if len(request) > MAX_REQUEST_CHARS:
        raise ValueError(f"the message is longer than {MAX_REQUEST_CHARS} characters")
    registry = registry or get_registry()
    log: list[GenerationRecord] = []
    c = classify(request, current is not None, config, log)
    matches = library.match_templates(request)
    answer = Answer(
        intent=c.intent,
        confidence=c.confidence,
        entities=c.entities,
        message="",
        templates=[{**m.template.summary(), "score": m.score} for m in matches],
        generations=log,
    )
    try:
        if c.intent == "question":
            _answer_question(request, config, answer, log)
        elif not config.configured:
            _answer_from_template(matches, registry, answer)
        else:
            _answer_with_model(
                request,
                config,
                registry,
                matches,
                answer,
                log,
                current if c.intent == "change_request" else None,
            )
    finally:
        answer.tokens = sum(g.tokens for g in log)
        answer.latency_ms = sum(g.latency_ms for g in log)
    return answer


def _answer_question(request: str, config: ModelConfig, answer: Answer, log: list[GenerationRecord]) -> None:
    if config.generator is None:
        answer.message = (
            "Answering questions needs an AI provider: set CONNECTFLOW_ASSISTANT_MODEL on the server. "
            "See docs/assistant.md."
        )
        if answer.templates:
            answer.message += " Templates that may help: " + ", ".join(t["name"] for t in answer.templates)
        return
    messages = [{"role": "system", "content": _prompt("answer")}, {"role": "user", "content": request}]
    try:
        reply = complete(config.generator, config.fallback, messages, timeout=config.timeout)
    except AssistantModelError as exc:
        log.append(GenerationRecord("answer", request, str(exc), config.generator.model, "error", 0, 0))
        answer.message = str(exc)
        return
    log.append(_record("answer", request, reply, "ok"))
    answer.message = reply.text
    answer.model = reply.model
    answer.source = "model"


def _answer_from_template(matches: list[library.Match], registry: NodeRegistry, answer: Answer) -> None:
    if not matches:
        answer.message = (
            "Generating a workflow needs an AI provider: set CONNECTFLOW_ASSISTANT_MODEL (and "
            "CONNECTFLOW_ASSISTANT_API_KEY) on the server. No template matches this request."
        )
        return
    best = matches[0].template
    workflow, problems, needed = check(copy.deepcopy(best.workflow), registry)
    answer.message = NO_MODEL_MESSAGE
    answer.source = "template"
    _fill(answer, best.workflow, workflow, problems, needed, registry)


def _fill(
    answer: Answer,
    data: dict[str, Any] | None,
    workflow: spec.Workflow | None,
    problems: list[Problem],
    needed: list[dict[str, str]],
    registry: NodeRegistry,
) -> None:
    answer.workflow = workflow.model_dump(mode="json") if workflow is not None else data
    answer.problems = [str(p) for p in problems]
    answer.credentials_needed = needed
    answer.valid = workflow is not None and not problems
    if workflow is not None:
        answer.explanation = explain(workflow, registry, needed)


def spec_dump(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` normalised like an answer's workflow (defaults filled), when it parses."""
    try:
        return spec.parse_workflow(data).model_dump(mode="json")
    except spec.WorkflowInvalid:
        return data


def _answer_with_model(
    request: str,
    config: ModelConfig,
    registry: NodeRegistry,
    matches: list[library.Match],
    answer: Answer,
    log: list[GenerationRecord],
    current: dict[str, Any] | None,
) -> None:
    assert config.generator is not None
    try:
        data, workflow, problems, needed, repairs, reply = generate(
            request, config, registry, matches, log, current
        )
    except AssistantModelError as exc:
        log.append(GenerationRecord("generate", request, str(exc), config.generator.model, "error", 0, 0))
        answer.message = f"{exc}."
        if matches:
            answer.message += " Here is the closest template as a draft instead."
            wf, probs, needed = check(copy.deepcopy(matches[0].template.workflow), registry)
            answer.source = "template"
            _fill(answer, matches[0].template.workflow, wf, probs, needed, registry)
        return
    answer.repairs = repairs
    answer.model = reply.model if reply else config.generator.model
    answer.source = "model"
    _fill(answer, data, workflow, problems, needed, registry)
    if current is not None and answer.workflow is not None:
        answer.diff = diff_workflows(spec_dump(current), answer.workflow)
    if answer.valid:
        answer.message = "Here is the workflow." if current is None else "Here is the changed workflow."
        if repairs:
            answer.message += f" (fixed after {repairs} repair round{'s' if repairs > 1 else ''})"
    else:
        answer.message = (
            f"The model's workflow still has {len(problems)} problem(s) after {repairs} repair round(s); "
            "it is shown as a draft to fix by hand."
        )


__all__ = ["Answer", "Classification", "Endpoint", "ModelConfig", "assist", "check", "classify_by_rules"]
