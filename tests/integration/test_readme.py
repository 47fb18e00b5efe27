"""The README, followed literally (as far as a test can): `make run`, then its shell blocks
as a new user would paste them, then Ctrl-C.

Only what ties the run to this test is changed: the port (PORT), a SQLite file, a private
vhost and a var/ folder of its own (GARAGE_VAR_DIR), which the README's commands reach
through the same substitutions (`localhost:8000`, `var/`). Nothing else is set: no
DJANGO_DEBUG, no DJANGO_SECRET_KEY, as for a first run.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import requests

from tests.support.stack import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def block(after_heading: str, index: int = 0) -> str:
    """The `index`-th ```bash block of the README section that starts with this heading."""
    section = README.split(f"\n## {after_heading}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return blocks[index]


class MakeRun:
    def __init__(self, tmp: Path, amqp_url: str) -> None:
        self.port = free_port()
        self.var = tmp / "var"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "GARAGE_", "PROMETHEUS_")) and k != "DATABASE_URL"
        }
        self.env.update(
            PORT=str(self.port),
            AMQP_URL=amqp_url,
            DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
            GARAGE_VAR_DIR=str(self.var),
        )
        self.log_path = tmp / "make-run.log"
        self.log = open(self.log_path, "w")  # closed in stop()
        self.proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # As in a terminal: Ctrl-C reaches make, the shell and honcho.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"make run stopped:\n{self.output()}"
        out = self.output()
        if "consuming garage" not in out:
            return False
        try:
            url = f"http://localhost:{self.port}/health/ready"
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def shell(self, script: str) -> subprocess.CompletedProcess:
        script = script.replace("localhost:8000", f"localhost:{self.port}")
        script = re.sub(r"(?<![\w/.])var/", f"{self.var}/", script)
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"README block failed:\n{script}\n--- stdout\n{result.stdout}\n--- stderr\n"
            f"{result.stderr}\n--- make run\n{self.output()[-4000:]}"
        )
        return result

    def ctrl_c(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.log.close()


def test_readme_commands_work_as_written_after_make_run(vhost, tmp_path):
    run = MakeRun(tmp_path, vhost.url)
    try:
        wait_until(run.ready, timeout=240, interval=0.5, message="make run serving")

        walk = run.shell(block("Walkthrough"))
        assert re.search(r'"statut":\s*"acceptee"', walk.stdout + walk.stderr)
        # The headers of step 2 (HTTP header names are case-insensitive; granian sends
        # them in lower case).
        assert "x-request-id" in walk.stderr.lower()
        assert "garage.dlq" in walk.stdout  # `manage.py queues`, with no DJANGO_DEBUG set

        life = run.shell(block("The life of a repair")).stdout
        assert re.search(r'"statut":\s*"facturee"', life)
        assert "can no longer be changed" in life  # the 409's reason: work has started
        assert re.search(r'"vers":\s*"en_cours"', life)

        for command in block("Running in production").strip().splitlines()[:2]:
            run.shell(command)  # `manage.py queues` and `manage.py dlq list`

        seen = run.shell(block("Observing it: metrics, health, logs", 0)).stdout
        assert '"status": "ok"' in seen or '"status":"ok"' in seen
        metrics = run.shell(block("Observing it: metrics, health, logs", 1)).stdout
        assert re.search(r'garage_intake_requests_total\{outcome="accepted"\} [1-9]', metrics)

        # One log line per 401.
        r = requests.get(f"http://localhost:{run.port}/api/piece/?probe=unauthorised")
        assert r.status_code == 401
        wait_until(lambda: "probe=unauthorised" in run.output(), timeout=10)
        time.sleep(0.5)
        assert run.output().count("probe=unauthorised") == 1
    finally:
        if run.proc.poll() is None:
            rc = run.ctrl_c()
        else:
            rc = run.proc.returncode
        run.stop()
    out = run.output()
    # A clean stop looks clean: both processes exit 0, make reports no error.
    assert "web.1 stopped (rc=0)" in out and "worker.1 stopped (rc=0)" in out, out[-3000:]
    assert "rc=-15" not in out and "Error" not in out.split("SIGINT received")[-1]
    assert out.rstrip().endswith("stopped"), out[-2000:]
    assert rc in (0, -signal.SIGINT)
    # Loopback only, with DEBUG on; UTC timestamps from gunicorn's master and Django alike.
    assert f"Listening at: http://127.0.0.1:{run.port}" in out
    logged = [line.split("| ", 1)[1] for line in out.splitlines() if " | " in line]
    stamped = [line for line in logged if line[:4].isdigit()]
    assert stamped and all(STAMP.match(line) for line in stamped), stamped[:5]
    for secret in ("dev-secret-key", "metrics-token", "demo-token"):
        assert stat.S_IMODE((run.var / secret).stat().st_mode) == 0o600
