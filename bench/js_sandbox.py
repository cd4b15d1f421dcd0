"""Cost of the JavaScript sandbox (connectflow_dagster.sandbox): per call, per n8n expression, per
1,000-item Code node run, and how fast the limits stop runaway code. Last line: JSON.

    .venv/bin/python bench/js_sandbox.py [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable

from connectflow_dagster.sandbox import js, n8n


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


def stopped_after(code: str, **limits: float) -> float:
    started = time.perf_counter()
    with contextlib.suppress(js.JsError):
        js.evaluate(code, **limits)  # type: ignore[arg-type]
    return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    items = n8n.to_items([{"i": i, "name": f"row {i}"} for i in range(1000)])
    nodes = {"Start": n8n.to_items({"tag": "x"})}
    result = {
        "evaluate_trivial_ms": timed(lambda: js.evaluate("return 1 + 1"), args.repeat),
        "n8n_expression_ms": timed(
            lambda: js.evaluate(
                "$json.name + $('Start').first().json.tag",
                n8n.globals_for(items[:1], nodes),
                prelude=n8n.PRELUDE,
                expression=True,
            ),
            args.repeat,
        ),
        "code_all_items_1000_ms": timed(
            lambda: n8n.run_code(
                "return items.map(i => ({json: {...i.json, n: i.json.i * 2}}))",
                mode="all",
                input_items=items,
                nodes=nodes,
            ),
            max(5, args.repeat // 10),
        ),
        "code_each_item_1000_ms": timed(
            lambda: n8n.run_code(
                "return {...$json, n: $json.i * 2}", mode="each", input_items=items, nodes=nodes
            ),
            max(5, args.repeat // 10),
        ),
        "infinite_loop_1s_limit_stopped_after_s": stopped_after("while (true) {}", timeout=1.0),
        "memory_bomb_64mib_stopped_after_s": stopped_after(
            "const a = []; while (true) a.push('x'.repeat(1000) + Math.random());", timeout=10.0
        ),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
