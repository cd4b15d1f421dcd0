"""Assistant quality: 40 requests of varied difficulty with the node types each must use.

    .venv/bin/python bench/assistant_eval.py              # the configured provider (CONNECTFLOW_ASSISTANT_*)
    .venv/bin/python bench/assistant_eval.py --scripted   # a local scripted OpenAI-compatible server (CI)

Against a real provider (a key, or a local llama.cpp / Ollama server through
CONNECTFLOW_ASSISTANT_API_BASE) it measures the assistant itself. ``--scripted`` only keeps the
harness working: a local server answers every generation with the best-matching template (one in
four first with a dangling edge, to exercise repairs), so its figures say nothing about a model.
Reports valid-after-repair rate, first-attempt rate, node-type precision and recall (over the
expected types), repairs, latency p50/p90 and tokens. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# (request, expected node types)
CASES: list[tuple[str, set[str]]] = [
    ("Post every new Google Form response to Discord", {"trigger.google_form", "discord.send"}),
    ("When a Stripe payment succeeds, send a message to Slack", {"trigger.stripe", "slack.send"}),
    (
        "Every morning at 9 fetch https://api.example.com/status and post it to Slack",
        {"trigger.schedule", "http.request", "slack.send"},
    ),
    (
        "When a Stripe payment comes in, summarise it with OpenAI and e-mail the summary with Gmail",
        {"trigger.stripe", "ai.openai", "email.gmail"},
    ),
    ("Receive a webhook and forward its body to Slack", {"trigger.webhook", "slack.send"}),
    ("Email the team via Gmail when a Google Form is submitted", {"trigger.google_form", "email.gmail"}),
    (
        "Every 5 minutes check https://example.com and alert Discord if it does not answer 200",
        {"trigger.schedule", "http.request", "if", "discord.send"},
    ),
    (
        "Every day write an Instagram caption with AI, make an image with Luma and publish it",
        {"trigger.schedule", "ai.openai", "luma.generate_image", "instagram.publish"},
    ),
    (
        "When a lead arrives by webhook, enrich it from our API, score it with AI and tell sales on Slack",
        {"trigger.webhook", "http.request", "ai.openai", "slack.send"},
    ),
    (
        "Run by hand: fetch a URL and summarise it with an AI model",
        {"trigger.manual", "http.request", "ai.openai"},
    ),
    (
        "Contact form webhook: draft a reply with AI and send it by SMTP e-mail",
        {"trigger.webhook", "ai.openai", "email.smtp"},
    ),
    (
        "Expose a webhook that answers the caller with the JSON it received plus ok=true",
        {"trigger.webhook", "set", "respond"},
    ),
    (
        "Every hour call our metrics API and post the numbers to Discord",
        {"trigger.schedule", "http.request", "discord.send"},
    ),
    ("When a Stripe charge fails, email billing@example.com over SMTP", {"trigger.stripe", "email.smtp"}),
    (
        "On a webhook, if amount is over 1000 notify Slack, otherwise notify Discord",
        {"trigger.webhook", "if", "slack.send", "discord.send"},
    ),
    (
        "Translate incoming webhook text to French with Anthropic Claude and post it to Slack",
        {"trigger.webhook", "ai.anthropic", "slack.send"},
    ),
    (
        "Each Monday at 8 generate a motivational quote with Gemini and post it to Discord",
        {"trigger.schedule", "ai.gemini", "discord.send"},
    ),
    (
        "When a Google Form is submitted, classify the answer with OpenAI and send it to Slack",
        {"trigger.google_form", "ai.openai", "slack.send"},
    ),
    ("Manually trigger a workflow that sets a greeting field", {"trigger.manual", "set"}),
    (
        "Fetch a JSON API on a schedule and store a transformed copy via POST to another API",
        {"trigger.schedule", "http.request", "set"},
    ),
    (
        "Webhook receives a list of orders; loop over them and POST each to our ERP",
        {"trigger.webhook", "loop", "http.request"},
    ),
    (
        "Filter webhook items to those with status paid and send them to Slack",
        {"trigger.webhook", "filter", "slack.send"},
    ),
    (
        "Switch on the webhook's event type: 'signup' to Slack, 'cancel' to e-mail via SMTP",
        {"trigger.webhook", "switch", "slack.send", "email.smtp"},
    ),
    (
        "Wait 10 minutes after a webhook then send a Discord reminder",
        {"trigger.webhook", "wait", "discord.send"},
    ),
    (
        "Run JavaScript code to compute a total from webhook items and post it to Slack",
        {"trigger.webhook", "code.js", "slack.send"},
    ),
    (
        "Daily, ask Perplexity for news about our company and e-mail it with Gmail",
        {"trigger.schedule", "ai.perplexity", "email.gmail"},
    ),
    (
        "Generate a blog image with Luma when a webhook gives a title",
        {"trigger.webhook", "luma.generate_image"},
    ),
    ("API trigger that calls an HTTP service and returns its status", {"trigger.api", "http.request"}),
    (
        "When a Stripe subscription is created, welcome the customer by Gmail",
        {"trigger.stripe", "email.gmail"},
    ),
    (
        "Every night summarise yesterday's API data with DeepSeek and post it to Slack",
        {"trigger.schedule", "http.request", "ai.deepseek", "slack.send"},
    ),
    (
        "Webhook → aggregate the items into one list → post the count to Discord",
        {"trigger.webhook", "aggregate", "discord.send"},
    ),
    (
        "When a form response arrives, post to Discord and also e-mail it via Gmail",
        {"trigger.google_form", "discord.send", "email.gmail"},
    ),
    (
        "Publish a webhook-provided image URL and caption to Instagram",
        {"trigger.webhook", "instagram.publish"},
    ),
    (
        "Every 15 minutes fetch a price; if it is below 100 send a Slack alert",
        {"trigger.schedule", "http.request", "if", "slack.send"},
    ),
    (
        "Run a Python snippet on a manual trigger that returns the current weekday",
        {"trigger.manual", "code.python"},
    ),
    (
        "On webhook, call two APIs and merge their results, then post to Slack",
        {"trigger.webhook", "http.request", "merge", "slack.send"},
    ),
    (
        "Stripe payment → write a thank-you note with OpenAI → send via SMTP",
        {"trigger.stripe", "ai.openai", "email.smtp"},
    ),
    (
        "Every Friday post a weekly summary from our API to Discord and Slack",
        {"trigger.schedule", "http.request", "discord.send", "slack.send"},
    ),
    ("A webhook that calls a sub-workflow with the request body", {"trigger.webhook", "workflow.execute"}),
    ("Send a Slack message whenever a workflow fails", {"trigger.error", "slack.send"}),
]


def scripted_server() -> tuple[ThreadingHTTPServer, str]:
    from connectflow_dagster.assistant import library

    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            request = body["messages"][-1]["content"] if body["messages"] else ""
            with lock:
                counter["n"] += 1
                n = counter["n"]
            first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            matches = library.match_templates(first_user) or [library.Match(library.templates()[0], 0.0)]
            wf = json.loads(json.dumps(matches[0].template.workflow))
            if n % 4 == 0 and "problems" not in request:
                wf["edges"].append({"source": wf["nodes"][-1]["id"], "target": "missing_node"})
            content = json.dumps(wf)
            data = json.dumps({
                "id": f"c{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300},
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scripted", action="store_true", help="answer from a local scripted server (CI)")
    parser.add_argument("--limit", type=int, default=len(CASES))
    args = parser.parse_args()
    server = None
    if args.scripted:
        server, base = scripted_server()
        os.environ.update({
            "CONNECTFLOW_ASSISTANT_MODEL": "openai/scripted", "CONNECTFLOW_ASSISTANT_API_BASE": base,
            "CONNECTFLOW_ASSISTANT_API_KEY": "scripted", "CONNECTFLOW_NETWORK_ALLOW": "127.0.0.1",
        })  # fmt: skip
    from connectflow_dagster.assistant.pipeline import ModelConfig, assist
    from connectflow_dagster.config import get_settings

    get_settings.cache_clear()
    config = ModelConfig.from_settings(get_settings())
    if not config.configured:
        sys.exit(
            "no model configured: set CONNECTFLOW_ASSISTANT_MODEL (see docs/assistant.md) or pass --scripted"
        )
    valid = first = 0
    tp = fp = fn = 0
    repairs: list[int] = []
    latencies: list[float] = []
    tokens: list[int] = []
    cases = CASES[: args.limit]
    for request, expected in cases:
        answer = assist(request, config)
        got = {n["type"] for n in (answer.workflow or {}).get("nodes", [])}
        valid += answer.valid
        first += answer.valid and answer.repairs == 0
        tp += len(got & expected)
        fp += len(got - expected)
        fn += len(expected - got)
        repairs.append(answer.repairs)
        latencies.append(answer.latency_ms / 1000)
        tokens.append(answer.tokens)
        mark = "ok " if answer.valid else "BAD"
        print(f"{mark} repairs={answer.repairs} {answer.latency_ms:>6} ms  {request[:70]}", file=sys.stderr)
    if server is not None:
        server.shutdown()
    n = len(cases)
    print(json.dumps({
        "provider": "scripted" if args.scripted else config.generator.model if config.generator else None,
        "requests": n,
        "valid_after_repair_rate": round(valid / n, 3),
        "first_attempt_rate": round(first / n, 3),
        "node_type_precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "node_type_recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
        "repairs_mean": round(statistics.mean(repairs), 3),
        "latency_p50_s": round(percentile(latencies, 0.5), 3),
        "latency_p90_s": round(percentile(latencies, 0.9), 3),
        "tokens_mean": round(statistics.mean(tokens), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
