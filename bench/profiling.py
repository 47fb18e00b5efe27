"""`--profile`: py-spy records of the web workers and the consumer during each phase.

Each record is py-spy's raw (collapsed stacks) format in bench-results/profiles/<run>/; it
loads as is in speedscope.app or flamegraph.pl. This module also summarises each one: the
functions with the most samples on top of the stack (self) and anywhere in it (inclusive).
`python -m bench.profiling FILE...` prints the same summary for files from an earlier run.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.stack import ROOT, VENV_BIN, HarnessError, Stack

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str:
    path = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(path).exists():
        raise HarnessError("py-spy not found: pip install py-spy (needed by --profile)")
    return path


def start(
    stack: Stack, phase: str, name: str, pid: int, *, idle: bool = False, gil: bool = False
) -> dict:
    """idle: also sample waiting threads (wall-clock view); gil: only the thread holding
    the GIL (where the Python CPU goes)."""
    out_dir = ROOT / "bench-results" / "profiles" / stack.log_dir.name
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{phase}-{name}.txt"
    args = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--rate",
        "100",
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(out),
    ]
    if idle:
        args.append("--idle")
    if gil:
        args.append("--gil")
    log = open(out_dir / f"{phase}-{name}.py-spy.log", "w")
    proc = stack.spawn_helper(args, stdout=log, stderr=subprocess.STDOUT)
    return {
        "phase": phase,
        "name": name,
        "pid": pid,
        "out": out,
        "proc": proc,
        "log": log,
        "idle": idle,
        "gil": gil,
    }


def stop(handles: list[dict]) -> dict:
    summaries = {}
    for h in handles:
        proc = h["proc"]
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        h["log"].close()
        summary = summarize(h["out"]) if h["out"].exists() else {"error": "no output"}
        summary["file"] = str(h["out"].relative_to(ROOT))
        summary["mode"] = "idle" if h["idle"] else "gil" if h["gil"] else "active"
        summaries[h["name"]] = summary
    return summaries


def _short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path}:{m.group('line') or '?'})"


def _short_noline(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", _short(frame))


def summarize(path: Path, top: int = 12) -> dict:
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        self_counts[_short_noline(frames[-1])] += n
        for f in set(map(_short_noline, frames)):
            incl_counts[f] += n

    def pct(counter: Counter[str]) -> list[tuple[str, float]]:
        return (
            [(f, round(100 * c / total, 1)) for f, c in counter.most_common(top)] if total else []
        )

    return {"samples": total, "self_pct": pct(self_counts), "inclusive_pct": pct(incl_counts)}


def describe(profiles: dict) -> str:
    lines = ["py-spy profiles (self %: samples with the function on top of the stack)"]
    for phase, procs in profiles.items():
        for name, s in procs.items():
            lines.append(f"  {phase} / {name}: {s.get('samples', 0)} samples, {s.get('file')}")
            for func, p in s.get("self_pct", [])[:8]:
                lines.append(f"      {p:5.1f}%  {func}")
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        s = summarize(Path(arg), top=25)
        print(f"{arg}: {s['samples']} samples")
        print("  self:")
        for func, p in s["self_pct"]:
            print(f"    {p:5.1f}%  {func}")
        print("  inclusive:")
        for func, p in s["inclusive_pct"]:
            print(f"    {p:5.1f}%  {func}")
        with contextlib.suppress(Exception):
            sys.stdout.flush()
