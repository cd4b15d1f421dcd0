"""The top of a py-spy profile as text: inclusive and self share per function, per kind of process.

    py-spy record --nonblocking --subprocesses --format raw -r 50 -o prof.txt -- <command>
    .venv/bin/python bench/profile_top.py prof.txt [--top 25] [--process worker|gateway|…]

Reads py-spy's raw (collapsed) stacks; with ``--subprocesses`` each stack starts with the processes
it runs in, and stacks are grouped by the innermost process's command line (``worker`` for
``connectflow_dagster.dispatch.worker``, ``gateway`` for uvicorn / ``connectflow serve``). Functions
are named ``function (file)`` without line numbers, so one function's lines add up.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_PROCESS = re.compile(r'^process \d+:"(.*)"$')
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def kind_of(command: str) -> str:
    if "dispatch.worker" in command or " worker" in command:
        return "worker"
    if "uvicorn" in command or " serve" in command or "gateway" in command:
        return "gateway"
    return command.split(" ")[1] if " " in command else command


def function_name(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    name, path = match.groups()
    for marker in ("site-packages/", "python3.11/", "python3.12/", "python3.13/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def load(path: Path) -> dict[str, list[tuple[list[str], int]]]:
    stacks: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        command = ""
        while frames and _PROCESS.match(frames[0]):
            command = _PROCESS.match(frames[0]).group(1)  # type: ignore[union-attr]
            frames = frames[1:]
        frames = [f for f in frames if not f.startswith("thread ")]
        stacks[kind_of(command)].append(([function_name(f) for f in frames], int(count)))
    return stacks


def top(stacks: list[tuple[list[str], int]], n: int) -> str:
    total = sum(c for _, c in stacks)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    lines = [f"  {total} samples", "  inclusive:"]
    lines += [f"    {100 * c / total:5.1f} %  {name}" for name, c in inclusive.most_common(n)]
    lines.append("  self:")
    lines += [f"    {100 * c / total:5.1f} %  {name}" for name, c in own.most_common(max(10, n // 2))]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--process", help="only this kind of process (worker, gateway, …)")
    args = parser.parse_args()
    for kind, stacks in sorted(load(args.profile).items(), key=lambda kv: -sum(c for _, c in kv[1])):
        if args.process and kind != args.process:
            continue
        print(f"{kind}:")
        print(top(stacks, args.top))


if __name__ == "__main__":
    main()
