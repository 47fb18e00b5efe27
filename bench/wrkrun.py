"""Running wrk with bench/lua/garage.lua and reading its one-line JSON summary."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.stack import HarnessError, Stack

LUA = Path(__file__).resolve().parent / "lua" / "garage.lua"


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise HarnessError("wrk not found: apt-get install -y wrk (see bench/README.md)")
    return path


def run_wrk(
    stack: Stack,
    script_args: list[str],
    *,
    connections: int,
    threads: int,
    duration: float,
    timeout: str = "2s",
    stop_when: Callable[[], bool] | None = None,
) -> dict:
    """Runs wrk against the stack; returns its summary with derived rates and error counts."""
    threads = max(1, min(threads, connections))
    args = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout}",
        "-s",
        str(LUA),
        stack.base_url,
        "--",
        *script_args,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = stack.spawn_helper(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stop_when is not None:
        # wrk sleeps out its whole -d even when every thread has stopped (Lua `limit`);
        # SIGINT ends it early, and it still prints its summary.
        deadline = time.monotonic() + duration
        while proc.poll() is None and time.monotonic() < deadline:
            if stop_when():
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.25)
    try:
        out, err = proc.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise HarnessError(f"wrk did not finish: {' '.join(args)}") from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise HarnessError(f"wrk failed ({proc.returncode}): {err.strip()}\n{out[-2000:]}")
    res = json.loads(line[len("BENCH_JSON ") :])
    seconds = res["duration_us"] / 1e6
    statuses = {int(k): v for k, v in res["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    e = res["errors"]
    res.update(
        seconds=round(seconds, 3),
        statuses=statuses,
        ok=ok,
        ok_per_s=round(ok / seconds, 1) if seconds else 0.0,
        non_2xx=sum(statuses.values()) - ok,
        socket_errors=e["connect"] + e["read"] + e["write"] + e["timeout"],
        latency_ms={k: round(v / 1000, 2) for k, v in res["latency_us"].items()},
        wrk_cpu_cores=round(cpu_s / seconds, 3) if seconds else None,
        command=" ".join(args),
    )
    del res["latency_us"]
    return res
