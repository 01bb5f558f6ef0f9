"""`bench/ci_idle`: what 100 idle runners polling `POST /api/v4/jobs/request` cost the server.

1. Builds a data directory (SQLite by default; KILN_DATABASE_URL for PostgreSQL) with 100
   instance runners created through the services, and a pipeline of 20 pending jobs that no
   runner may take (they need a tag none has): the queue is not empty, only useless to them.
2. Starts `kiln web` (gunicorn, as deployed).
3. Each runner polls like gitlab-runner (its default `check_interval` is 3 s) with the body
   gitlab-runner sends, in two phases:
   - "last_update": sending back the `X-GitLab-Last-Update` it was given, as every
     gitlab-runner does: the server compares a version number and answers 204 at once;
   - "no last_update": every poll searches the queue (what a runner without it would cost).
   and, as a baseline, the same clients at the same pace on `GET /-/liveness` (no work).
4. Reports per phase: server CPU seconds per minute (gunicorn master and workers, from /proc),
   database queries per minute and per poll (from the request log), and client latency.

Long polls are not held open: each request is answered at once, so 100 idle runners occupy no
web-server thread between polls.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
RUNNERS = 100
INTERVAL = 3.0
INFO = {
    "name": "gitlab-runner",
    "version": "17.5.0",
    "revision": "abcdef12",
    "platform": "linux",
    "architecture": "amd64",
    "executor": "shell",
    "features": {"variables": True, "artifacts": True, "cache": True, "trace_reset": True},
}


def seed(tokens_file: str) -> None:
    """Fill the data directory named by KILN_DATA_DIR (run in a child process)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    django.setup()
    from django.core.management import call_command

    from kiln.accounts.models import User
    from kiln.accounts.services import seed_root
    from kiln.ci.models import Job
    from kiln.ci.runners import create_runner
    from kiln.core.actor import Actor
    from kiln.projects.services import create_project
    from kiln.repositories.files import FileAction, create_commit

    call_command("migrate", interactive=False, verbosity=0)
    seed_root(password="bench-root-password", token_value="glpat-bench-root-token-000000")
    root = Actor.for_user(User.objects.get(pk=1))
    project = create_project(actor=root, name="Idle", path="idle")
    jobs = "".join(f"job{n}:\n  script: [x]\n  tags: [nobody-has-this]\n" for n in range(20))
    create_commit(
        actor=root,
        project=project,
        branch="main",
        message="CI",
        actions=[FileAction(action="create", file_path=".gitlab-ci.yml", content=jobs.encode())],
    )
    assert Job.objects.filter(status="pending").count() == 20
    tokens = [
        create_runner(actor=root, runner_type="instance_type", attrs={"tag_list": ["linux"]}).token
        for _ in range(RUNNERS)
    ]
    Path(tokens_file).write_text(json.dumps(tokens))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
    tree = [root]
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.append(pid)
                changed = True
    return tree


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def _log_offset(log: Path) -> int:
    return log.stat().st_size


def _queries_since(log: Path, offset: int) -> tuple[int, int]:
    """(requests, db queries) of `POST /api/v4/jobs/request` logged after `offset`."""
    requests_seen = queries = 0
    with log.open("rb") as fh:
        fh.seek(offset)
        for line in fh:
            if b"jobs/request" not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("message") == "request":
                requests_seen += 1
                queries += int(record.get("db_queries", 0))
    return requests_seen, queries


def _poll(
    url: str, token: str, send_last_update: bool, stop: threading.Event, latencies: list[float],
    statuses: dict[int, int], lock: threading.Lock,
) -> None:  # fmt: skip
    session = requests.Session()
    session.headers["User-Agent"] = "gitlab-runner 17.5.0 (17-5-stable; go1.22.7; linux/amd64)"
    last_update = ""
    time.sleep(random.uniform(0, INTERVAL))
    while not stop.is_set():
        body: dict[str, Any] = {"token": token, "info": INFO, "system_id": "s_bench"}
        if send_last_update and last_update:
            body["last_update"] = last_update
        started = time.perf_counter()
        if token == "":
            response = session.get(f"{url}/-/liveness", timeout=30)
        else:
            response = session.post(
                f"{url}/api/v4/jobs/request",
                json=body,
                headers={"Accept": "application/json"},
                timeout=30,
            )
        elapsed = time.perf_counter() - started
        last_update = response.headers.get("X-GitLab-Last-Update", last_update)
        with lock:
            latencies.append(elapsed)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        stop.wait(INTERVAL)


def _phase(
    url: str, tokens: list[str], pids: list[int], log: Path, *, send_last_update: bool,
    duration: float, name: str,
) -> dict[str, Any]:  # fmt: skip
    stop = threading.Event()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=_poll, args=(url, t, send_last_update, stop, latencies, statuses, lock)
        )
        for t in tokens
    ]
    for thread in threads:
        thread.start()
    time.sleep(INTERVAL + 1)  # every runner polled once (and got its last_update)
    with lock:
        latencies.clear()
        statuses.clear()
    offset = _log_offset(log)
    cpu_before = _cpu_seconds(pids)
    started = time.monotonic()
    time.sleep(duration)
    cpu = _cpu_seconds(pids) - cpu_before
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    polls, queries = _queries_since(log, offset)
    if not any(tokens):
        polls = sum(statuses.values())
    stop.set()
    for thread in threads:
        thread.join()
    per_minute = 60.0 / elapsed
    ordered = sorted(latencies)
    return {
        "phase": name,
        "runners": len(tokens),
        "polls/min": round(polls * per_minute),
        "cpu s/min": round(cpu * per_minute, 2),
        "cpu % of a core": round(cpu / elapsed * 100, 1),
        "queries/min": round(queries * per_minute),
        "queries/poll": round(queries / polls, 2) if polls else None,
        "p50 ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p99 ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1) if ordered else None,
        "statuses": dict(sorted(statuses.items())),
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    duration = 15.0 if quick else 60.0
    with tempfile.TemporaryDirectory(prefix="kiln-bench-ci-") as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PROMETHEUS_"))}
        if os.environ.get("KILN_DATABASE_URL"):
            env["KILN_DATABASE_URL"] = os.environ["KILN_DATABASE_URL"]
        env.update(
            KILN_DATA_DIR=str(Path(tmp) / "data"),
            KILN_LISTEN=f"127.0.0.1:{port}",
            KILN_WEB_WORKERS=os.environ.get("KILN_WEB_WORKERS", str(os.cpu_count() or 2)),
            KILN_SECRET_KEY="bench-secret-key",
            KILN_LOG_LEVEL="INFO",
            PYTHONPATH=str(REPO),
        )
        (Path(tmp) / "data").mkdir()
        tokens_file = Path(tmp) / "tokens.json"
        subprocess.run(
            [sys.executable, "-c", f"from bench.ci_idle import seed; seed({str(tokens_file)!r})"],
            env=env,
            check=True,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        tokens = json.loads(tokens_file.read_text())
        log_path = Path(tmp) / "web.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "kiln.cli", "web"], env=env, stderr=log, stdout=log
            )
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if requests.get(f"{url}/-/health", timeout=1).status_code == 200:
                            break
                    except requests.RequestException:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("kiln web did not start")
                    time.sleep(0.2)
                pids = _process_tree(server.pid)
                rows = [
                    _phase(
                        url,
                        tokens,
                        pids,
                        log_path,
                        send_last_update=True,
                        duration=duration,
                        name="jobs/request with last_update",
                    ),
                    _phase(
                        url,
                        tokens,
                        pids,
                        log_path,
                        send_last_update=False,
                        duration=duration,
                        name="jobs/request without last_update",
                    ),
                    # The same number of clients at the same pace on a route that does no
                    # work: what any request costs this server (middleware, logs, metrics).
                    _phase(
                        url,
                        [""] * len(tokens),
                        pids,
                        log_path,
                        send_last_update=False,
                        duration=duration,
                        name="GET /-/liveness (baseline)",
                    ),
                ]
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
    return {
        "benchmark": "ci_idle",
        "interval_s": INTERVAL,
        "duration_s": duration,
        "database": "postgresql" if os.environ.get("KILN_DATABASE_URL") else "sqlite",
        "web_workers": env["KILN_WEB_WORKERS"],
        "rows": rows,
    }


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    for row in result["rows"]:
        print(json.dumps(row))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
