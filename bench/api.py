"""API latency and throughput of the real server, side by side with a route that does no work.

1. Builds a data directory (SQLite) with root, a user `bench` with a token, 10 groups
   (`bench` a Developer in half of them) and 200 projects of every visibility, all through the
   services, as the API would.
2. Starts `kiln web` (gunicorn, as deployed) on a free port.
3. For `GET /api/v4/projects/:id`, `GET /api/v4/projects?per_page=20` (as `bench`, with a
   token) and the no-work route (`/-/noop`, routed by kiln.urls): open-loop fixed rates of 20,
   100 and 200 requests/s, then closed-loop maximum throughput.

Targets (from the foundation issue, on 2 cores): p90 <= 50 ms at 200 requests/s, and each API
route >= 50% of the no-work route's throughput. The load generator runs on the same machine
and shares its cores with the server: the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import functools
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import load

REPO = Path(__file__).resolve().parent.parent
TOKEN = "glpat-bench-token-0123456789abcdef"
RATES = (20, 100, 200)
PROJECTS = 200
P90_TARGET_MS = 50.0
THROUGHPUT_TARGET = 0.5


def seed() -> None:
    """Fill the data directory named by KILN_DATA_DIR (run in a child process)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    django.setup()
    from django.core.management import call_command

    from kiln.accounts.access_tokens import create_personal_access_token_unchecked
    from kiln.accounts.services import create_user_unchecked, seed_root
    from kiln.core.access import AccessLevel, Visibility
    from kiln.core.actor import Actor
    from kiln.namespaces.groups import create_group
    from kiln.namespaces.members import add_member
    from kiln.projects.services import create_project

    call_command("migrate", interactive=False, verbosity=0)
    seed_root(password="bench-root-password", token_value="glpat-bench-root-token-00")
    from kiln.accounts.models import User

    root = Actor.for_user(User.objects.get(pk=1))
    user = create_user_unchecked(
        username="bench",
        name="Bench",
        email="bench@example.com",
        password="bench-password-1",
    )
    create_personal_access_token_unchecked(user=user, name="bench", scopes=["api"], value=TOKEN)
    levels = [Visibility.PUBLIC, Visibility.INTERNAL, Visibility.PRIVATE]
    groups = []
    for n in range(10):
        group = create_group(
            actor=root, name=f"Group {n}", path=f"group-{n}", visibility_level=Visibility.PUBLIC
        )
        if n % 2 == 0:
            add_member(
                actor=root, source=group, user_ref=user.pk, access_level=AccessLevel.DEVELOPER
            )
        groups.append(group)
    for n in range(PROJECTS):
        group = groups[n % len(groups)]
        create_project(
            actor=root,
            name=f"Project {n}",
            path=f"project-{n}",
            namespace=group.pk,
            description=f"Benchmark project number {n}.",
            visibility=levels[n % 3],
            topics=[f"topic-{n % 7}"],
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kiln web exited with {process.returncode}")
        conn = load.Connection("127.0.0.1", port)
        try:
            if conn.request(load.encode_get("/-/readiness", "bench", {})) == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError("kiln web did not become ready")


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and every process below it."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state ppid ... utime(12th) stime(13th) counted from state=0.
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def _status(port: int, path: str, headers: dict[str, str]) -> int:
    conn = load.Connection("127.0.0.1", port)
    try:
        return conn.request(load.encode_get(path, "bench", headers))
    finally:
        conn.close()


def _visible_project_id(port: int, headers: dict[str, str]) -> int:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v4/projects?per_page=1&search=project-1", headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)[0]["id"])


def run(*, quick: bool = False) -> dict[str, Any]:
    duration = 3.0 if quick else 10.0
    workers = os.environ.get("KILN_WEB_WORKERS", str(os.cpu_count() or 2))
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PROMETHEUS_"))}
        env.update(
            KILN_DATA_DIR=str(Path(tmp) / "data"),
            KILN_LISTEN=f"127.0.0.1:{port}",
            KILN_WEB_WORKERS=workers,
            KILN_SECRET_KEY="bench-secret-key",
            PYTHONPATH=str(REPO),
        )
        (Path(tmp) / "data").mkdir()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from bench.api import seed; seed()"],
            env=env,
            check=True,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        seeded_in = time.perf_counter() - started
        log = open(Path(tmp) / "web.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "kiln.cli", "web"], env=env, stderr=log, stdout=log
        )
        try:
            _wait_ready(port, server)
            return _measure(port, server.pid, duration, seeded_in, workers)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()


def _phase(pid: int, run: Any) -> dict[str, Any]:
    before = _server_cpu(pid)
    result = run()
    cpu = _server_cpu(pid) - before
    summary = result.summary()
    summary["srv_cpu_ms_per_req"] = round(cpu / result.count * 1000, 2) if result.count else 0
    return summary


def _measure(
    port: int, pid: int, duration: float, seeded_in: float, workers: str
) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    auth = {"PRIVATE-TOKEN": TOKEN}
    noop = "/-/noop"
    project_id = _visible_project_id(port, auth)
    routes = {
        "GET /api/v4/projects/:id": f"/api/v4/projects/{project_id}",
        "GET /api/v4/projects?per_page=20": "/api/v4/projects?per_page=20",
        f"GET {noop} (no work)": noop,
    }
    for path in routes.values():
        assert _status(port, path, auth) == 200, path
    rows: list[dict[str, Any]] = []
    peaks: dict[str, float] = {}
    p90_at_200: dict[str, float] = {}
    for name, path in routes.items():
        raw = load.encode_get(path, "bench", auth)
        load.closed_loop("127.0.0.1", port, raw, concurrency=4, duration=1.0)  # warm up
        for rate in RATES:
            row = _phase(
                pid,
                functools.partial(
                    load.open_loop, "127.0.0.1", port, raw, rate=rate, duration=duration
                ),
            )
            rows.append({"route": name, "load": f"{rate}/s", **row})
            if rate == 200:
                p90_at_200[name] = row["p90_ms"]
        row = _phase(
            pid,
            functools.partial(
                load.closed_loop, "127.0.0.1", port, raw, concurrency=16, duration=duration
            ),
        )
        rows.append({"route": name, "load": "max (16 conns)", **row})
        peaks[name] = row["achieved_rps"]
    noop_name = next(n for n in routes if "no work" in n)
    summary: list[str] = []
    verdicts: dict[str, bool] = {}
    for name in routes:
        if name == noop_name:
            continue
        ratio = peaks[name] / peaks[noop_name] if peaks[noop_name] else 0.0
        p90 = p90_at_200[name]
        verdicts[f"{name}: p90 at 200/s <= {P90_TARGET_MS:g} ms"] = p90 <= P90_TARGET_MS
        verdicts[f"{name}: throughput >= {THROUGHPUT_TARGET:.0%} of no-work"] = (
            ratio >= THROUGHPUT_TARGET
        )
        summary.append(
            f"{name}: p90 at 200/s {p90:.1f} ms (target <= {P90_TARGET_MS:g}); "
            f"max {peaks[name]:.0f}/s = {ratio:.0%} of the no-work route's "
            f"{peaks[noop_name]:.0f}/s (target >= {THROUGHPUT_TARGET:.0%})"
        )
    return {
        "rows": rows,
        "summary": summary,
        "targets": verdicts,
        "setup": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "server": f"kiln web (gunicorn gthread, {workers} workers x "
            f"{os.environ.get('KILN_WEB_THREADS', '16')} threads)",
            "database": "SQLite (WAL)",
            "projects": PROJECTS,
            "seconds_per_phase": duration,
            "seeded_in_s": round(seeded_in, 1),
            "client": "bench/load.py on the same machine (raw sockets, keep-alive)",
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    }
