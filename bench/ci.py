"""`bench/ci`: from `git push` to a running job's first log byte, with the embedded runner.

`kiln serve` on a fresh data directory (web, worker, embedded runner: what a new user runs);
a project whose `.gitlab-ci.yml` has one job printing a line. For each of N pushes of a new
commit, the client records when the push returned, when the pipeline appeared
(`GET /projects/:id/pipelines?sha=`), when its job was picked up (`started_at` set) and when
the job's trace had its first byte, polling every 20 ms.

The peer, measured in the same run: a bare repository whose post-receive hook posts to a local
listener (bash's /dev/tcp, no interpreter to start): the floor of "a push tells a server".
Target (the CI issue): p90 of push -> first trace byte < 1 s.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.git import TOKEN, Kiln, git

CI_YAML = "job:\n  script:\n    - echo first-line\n"


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p90_ms": round(p90 * 1000, 1)}


def _wait(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError("timed out waiting")


def _kiln_latencies(pushes: int) -> dict[str, Any]:
    kiln = Kiln()
    try:
        project = kiln.api("POST", "/projects", json={"name": "ci-bench"})
        pid = project["id"]
        work = Path(tempfile.mkdtemp(prefix="kiln-bench-ci-"))
        git("init", "-q", "-b", "main", str(work))
        (work / ".gitlab-ci.yml").write_text(CI_YAML)
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", "ci", cwd=work)
        url = kiln.url.replace("http://", f"http://root:{TOKEN}@") + "/root/ci-bench.git"
        git("push", "-q", url, "main", cwd=work)
        session = requests.Session()
        session.headers["PRIVATE-TOKEN"] = TOKEN
        api = f"{kiln.url}/api/v4/projects/{pid}"

        def pipeline_of(sha: str) -> Any:
            found = session.get(f"{api}/pipelines", params={"sha": sha}, timeout=10).json()
            return found[0] if found else None

        # Warm-up: the first pipeline (runner registration, first job) is not measured.
        first = git("rev-parse", "HEAD", cwd=work).strip()
        warm = _wait(lambda: pipeline_of(first), 120)
        _wait(
            lambda: (
                session.get(f"{api}/pipelines/{warm['id']}", timeout=10).json()["status"]
                in ("success", "failed")
            ),
            120,
        )
        rows: dict[str, list[float]] = {"push": [], "pipeline": [], "pickup": [], "trace": []}
        for i in range(pushes):
            (work / "n.txt").write_text(f"{i}\n")
            git("add", ".", cwd=work)
            git("commit", "-q", "-m", f"push {i}", cwd=work)
            sha = git("rev-parse", "HEAD", cwd=work).strip()
            started = time.perf_counter()
            git("push", "-q", url, "main", cwd=work)
            rows["push"].append(time.perf_counter() - started)
            pipeline = _wait(lambda sha=sha: pipeline_of(sha))
            rows["pipeline"].append(time.perf_counter() - started)
            jobs_url = f"{api}/pipelines/{pipeline['id']}/jobs"
            job = _wait(
                lambda jobs_url=jobs_url: next(
                    (j for j in session.get(jobs_url, timeout=10).json() if j["started_at"]),
                    None,
                )
            )
            rows["pickup"].append(time.perf_counter() - started)
            _wait(lambda job=job: session.get(f"{api}/jobs/{job['id']}/trace", timeout=10).content)
            rows["trace"].append(time.perf_counter() - started)
            _wait(
                lambda job=job: (
                    session.get(f"{api}/jobs/{job['id']}", timeout=10).json()["status"]
                    in ("success", "failed")
                ),
                60,
            )
        return {name: _quantiles(values) for name, values in rows.items()}
    finally:
        kiln.stop()


def _peer_latency(pushes: int) -> dict[str, float]:
    """Push to a bare repository whose post-receive hook tells a local listener."""
    arrivals: list[float] = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def listen() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                arrivals.append(time.perf_counter())
                conn.sendall(b"HTTP/1.0 204 No Content\r\n\r\n")

    threading.Thread(target=listen, daemon=True).start()
    root = Path(tempfile.mkdtemp(prefix="kiln-bench-ci-peer-"))
    bare, work = root / "bare.git", root / "work"
    git("init", "-q", "--bare", str(bare))
    hook = bare / "hooks" / "post-receive"
    hook.write_text(
        f"#!/bin/bash\ncat >/dev/null\nexec 3<>/dev/tcp/127.0.0.1/{port}\n"
        "printf 'POST / HTTP/1.0\\r\\n\\r\\n' >&3\ncat <&3 >/dev/null\n"
    )
    hook.chmod(0o755)
    git("init", "-q", "-b", "main", str(work))
    latencies = []
    for i in range(pushes + 1):
        (work / "n.txt").write_text(f"{i}\n")
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", f"push {i}", cwd=work)
        count = len(arrivals)
        started = time.perf_counter()
        git("push", "-q", str(bare), "main", cwd=work)
        _wait(lambda count=count: len(arrivals) > count)
        if i:  # the first push creates the branch; like Kiln's warm-up, not measured
            latencies.append(arrivals[-1] - started)
    server.close()
    return _quantiles(latencies)


def run(quick: bool = False) -> dict[str, Any]:
    pushes = 5 if quick else 20
    kiln = _kiln_latencies(pushes)
    peer = _peer_latency(pushes)
    p90 = kiln["trace"]["p90_ms"]
    return {
        "pushes": pushes,
        "kiln_ms_after_push_started": kiln,
        "peer_post_receive_notify_ms": peer,
        "first_trace_byte_p90_ms": p90,
        "targets": {"first_trace_byte_p90_ms < 1000": p90 < 1000},
        "cpu_count": os.cpu_count(),
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
    }
