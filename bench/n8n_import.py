"""Import every n8n workflow (``*.json``) in a folder and say how much carried over.

    .venv/bin/python bench/n8n_import.py tests/fixtures/n8n [--recursive]

Per file and in total: nodes mapped exactly / approximated / not supported (placeholders), sticky
notes, expressions translated to templates / evaluated as JavaScript / left in placeholders, and
whether the result validates (``valid``: no problem at all; ``valid_but_credentials``: only
credentials left to choose, which no export carries). Nothing is saved or run. Last line: JSON with
``files``, ``imported``, ``valid``, ``node_coverage`` (share of nodes mapped, exactly or
approximated) and ``expression_coverage`` (share of expressions translated or evaluated as JS).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from connectflow_dagster.errors import WorkflowInvalid
    from connectflow_dagster.interop.n8n import import_n8n

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    folder = Path(args[0]) if args else ROOT / "tests" / "fixtures" / "n8n"
    pattern = "**/*.json" if "--recursive" in sys.argv else "*.json"
    files = sorted(
        p
        for p in folder.glob(pattern)
        if not p.name.endswith(".inputs.json") and "expected" not in p.relative_to(folder).parts
    )
    totals: Counter[str] = Counter()
    unsupported_types: Counter[str] = Counter()
    imported = valid = valid_but_credentials = 0
    print(
        f"{'file':<40} {'exact':>5} {'approx':>6} {'unsup':>5} {'expr':>5} {'tmpl':>5} {'js':>4} {'kept':>5}  valid"
    )
    for path in files:
        try:
            data = json.loads(path.read_text())
            results = import_n8n(data)
        except (ValueError, WorkflowInvalid) as exc:
            print(f"{path.name:<40} not imported: {str(exc)[:80]}")
            continue
        for result in results:
            imported += 1
            s = result.report.summary()
            for key in ("exact", "approximated", "unsupported", "expressions", "expressions_translated",
                        "expressions_js", "expressions_placeholder"):  # fmt: skip
                totals[key] += s[key]
            for node in result.report.nodes:
                if node.status == "unsupported":
                    unsupported_types[node.n8n_type] += 1
            problems = result.report.problems
            only_credentials = bool(problems) and all("credential" in p for p in problems)
            valid += not problems
            valid_but_credentials += not problems or only_credentials
            state = (
                "yes"
                if not problems
                else "credentials to choose"
                if only_credentials
                else f"no ({problems[0][:60]})"
            )
            print(
                f"{path.name[:40]:<40} {s['exact']:>5} {s['approximated']:>6} {s['unsupported']:>5} "
                f"{s['expressions']:>5} {s['expressions_translated']:>5} {s['expressions_js']:>4} "
                f"{s['expressions_placeholder']:>5}  {state}"
            )
    nodes = totals["exact"] + totals["approximated"] + totals["unsupported"]
    node_coverage = (totals["exact"] + totals["approximated"]) / nodes if nodes else 0.0
    expression_coverage = (
        (totals["expressions_translated"] + totals["expressions_js"]) / totals["expressions"]
        if totals["expressions"]
        else 0.0
    )
    print(
        f"total: {nodes} nodes ({totals['exact']} exact, {totals['approximated']} approximated, "
        f"{totals['unsupported']} not supported); {totals['expressions']} expressions "
        f"({totals['expressions_translated']} translated, {totals['expressions_js']} JavaScript, "
        f"{totals['expressions_placeholder']} in placeholders)"
    )
    if unsupported_types:
        print("not supported:", ", ".join(f"{t} ×{n}" for t, n in unsupported_types.most_common(10)))
    print(
        json.dumps(
            {
                "files": len(files),
                "imported": imported,
                "valid": valid,
                "valid_but_credentials": valid_but_credentials,
                "nodes": nodes,
                "node_coverage": round(node_coverage, 3),
                "node_exact": round(totals["exact"] / nodes, 3) if nodes else 0.0,
                "expressions": totals["expressions"],
                "expression_coverage": round(expression_coverage, 3),
                "expressions_translated": totals["expressions_translated"],
                "expressions_js": totals["expressions_js"],
            }
        )
    )


if __name__ == "__main__":
    main()
