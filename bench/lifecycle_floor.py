#!/usr/bin/env python
"""The preview lifecycle's floor: how long its applies and destroys must take at the least, given
the AWS provider's own waiters, against what the lane took.

Against the emulator every API call answers in milliseconds, so a resource's "Creation complete
after 20s" is the provider waiting (fixed delays and polling in its waiters: a VPC, a KMS key,
each Route 53 change's INSYNC poll, RDS, ECS, CloudFront). Terraform starts a resource as soon as
the resources it references are done, so the least time one apply can take is the longest chain
of such waits through the stack's dependency graph (its *critical path*); a plan waits for
nothing. The floor of the whole lane is the sum, over the lane's Terraform commands in the order
they ran, of each command's critical path, where commands that overlapped in time (run in
parallel) count once, by the longest of them.

Record a transcript, then read it:

    HEBO_TF_TRANSCRIPT=$PWD/build/tf-transcript.jsonl .venv/bin/python -m pytest -m lifecycle tests/terraform
    .venv/bin/python bench/lifecycle_floor.py build/tf-transcript.jsonl [--lane-seconds 1100]

(`make test` passes the variable on to every lane; `--match` picks the lifecycle's commands by
their directory, default `lifecycle-`.) The dependency graph comes from pr-42's synthesized
stacks (`tools.terraform_check.variant_env`), synthesized once into a temporary directory.
Printed: each group of commands with its critical path and the chain behind it, the floor, and,
with `--lane-seconds`, the lane's time over the floor.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.terraform_check import synthesize, variant_env  # after the sys.path line

_DONE = re.compile(
    r"^(?P<address>[^\s:]+): (?P<what>Creation|Modifications|Destruction) complete after (?P<time>(?:\d+h)?(?:\d+m)?\d+s)"
)
_REFERENCE = re.compile(r"\b((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\b")


def seconds(text: str) -> int:
    """`1m5s` -> 65 (Terraform's elapsed-time format)."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", text))


def resource_key(address: str) -> str:
    """`aws_subnet.x[0]` / `aws_subnet.x["a"]` -> `aws_subnet.x` (the configuration block)."""
    return re.sub(r"\[[^\]]*\]$", "", address)


def dependencies(stack: Mapping[str, Any]) -> dict[str, set[str]]:
    """`{resource or data block: blocks it references or depends on}` of one synthesized stack."""
    blocks: dict[str, Any] = {}
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for rtype, items in stack.get(kind, {}).items():
            for name, config in items.items():
                blocks[f"{prefix}{rtype}.{name}"] = config
    graph: dict[str, set[str]] = {}
    for key, config in blocks.items():
        text = json.dumps(config)
        found = {f"{t}.{n}" for t, n in _REFERENCE.findall(text)} & set(blocks)
        found |= {d for d in config.get("depends_on", []) if d in blocks}
        graph[key] = found - {key}
    return graph


def critical_path(durations: Mapping[str, int], graph: Mapping[str, set[str]]) -> tuple[int, list[str]]:
    """The longest chain of waits (seconds, and the chain first to last) through `graph`;
    blocks without a duration (not touched by the command, data sources) weigh 0 but still link."""
    memo: dict[str, tuple[int, list[str]]] = {}

    def longest(key: str, seen: frozenset[str]) -> tuple[int, list[str]]:
        if key in memo:
            return memo[key]
        best: tuple[int, list[str]] = (0, [])
        for dep in graph.get(key, ()):
            if dep not in seen:
                candidate = longest(dep, seen | {key})
                if candidate[0] > best[0]:
                    best = candidate
        own = durations.get(key, 0)
        memo[key] = (best[0] + own, best[1] + ([f"{key} {own}s"] if own else []))
        return memo[key]

    keys = set(graph) | set(durations)
    return max((longest(k, frozenset()) for k in keys), default=(0, []), key=lambda found: found[0])


@dataclass
class Command:
    """One Terraform command of the transcript, with its resources' waiter times."""

    stack: str
    verb: str
    started: float
    ended: float
    durations: dict[str, int] = field(default_factory=dict)
    path: tuple[int, list[str]] = (0, [])


def read_commands(transcript: Path, match: str) -> list[Command]:
    """The transcript's commands whose directory contains `match`, in start order."""
    commands = []
    for line in transcript.read_text().splitlines():
        entry = json.loads(line)
        if match not in entry["cwd"]:
            continue
        command = Command(Path(entry["cwd"]).name, entry["argv"][1], entry["started"], entry["ended"])
        destroyed: dict[str, int] = {}
        for out in entry["stdout"].splitlines():
            done = _DONE.match(out.strip())
            if done:
                key = resource_key(done["address"])
                into = destroyed if done["what"] == "Destruction" else command.durations
                into[key] = max(into.get(key, 0), seconds(done["time"]))
        # A replaced resource's destroy may run after its dependants (create_before_destroy): only a
        # resource that is destroyed and not created again counts its destroy, so the floor stays a
        # lower bound. Instances of one block (`x[0]`, `x[1]`) run side by side: the longest counts.
        command.durations.update({k: v for k, v in destroyed.items() if k not in command.durations})
        commands.append(command)
    return sorted(commands, key=lambda c: c.started)


def overlapping(commands: Iterable[Command]) -> list[list[Command]]:
    """Commands grouped where their run times overlap (what ran in parallel), in time order."""
    groups: list[list[Command]] = []
    end = float("-inf")
    for command in commands:
        if groups and command.started < end:
            groups[-1].append(command)
            end = max(end, command.ended)
        else:
            groups.append([command])
            end = command.ended
    return groups


def main(argv: list[str] | None = None) -> int:
    """Print the floor of the lifecycle recorded in a transcript."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transcript", type=Path)
    parser.add_argument(
        "--match", default="lifecycle-", help="a part of the commands' directories (default lifecycle-)"
    )
    parser.add_argument("--stage", default="pr-42")
    parser.add_argument("--lane-seconds", type=float, default=None, help="the lane's wall time, for the ratio")
    args = parser.parse_args(argv)
    if not args.transcript.is_file():
        parser.error(f'no transcript at {args.transcript}: record one with HEBO_TF_TRANSCRIPT=<file> (README, "Lanes")')
    commands = read_commands(args.transcript, args.match)
    if not commands:
        print(f"no Terraform command in {args.transcript} ran in a directory matching {args.match!r}")
        return 1
    with tempfile.TemporaryDirectory(prefix="hebo-floor-") as work:
        workspace = synthesize(Path(work), variant_env(args.stage))
        graphs = {stack: dependencies(workspace.stack_json(stack)) for stack in workspace.stacks()}
    for command in commands:
        command.path = critical_path(command.durations, graphs.get(command.stack, {}))
    floor = 0
    span = commands[-1].ended - commands[0].started
    busy = 0.0
    print(f"{'group':>5}  {'wall s':>7}  {'floor s':>7}  commands (critical path of the longest)")
    for number, group in enumerate(overlapping(commands), 1):
        longest = max(group, key=lambda c: c.path[0])
        floor += longest.path[0]
        wall = max(c.ended for c in group) - min(c.started for c in group)
        busy += wall
        names = ", ".join(f"{c.verb} {c.stack}" for c in group)
        print(f"{number:>5}  {wall:>7.0f}  {longest.path[0]:>7}  {names}")
        if longest.path[0]:
            print(f"{'':>24}{longest.stack}: {' -> '.join(longest.path[1])}")
    print(
        f"\nTerraform commands: {len(commands)}; first start to last end {span:.0f} s, of which in Terraform {busy:.0f} s"
    )
    print(f"floor (sum of the critical paths of the provider's waiters): {floor} s")
    if args.lane_seconds:
        print(
            f"lane {args.lane_seconds:.0f} s = {args.lane_seconds / floor:.2f} x the floor" if floor else "floor is 0"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
