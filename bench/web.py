"""Web UI pages of the real `kiln web`: p90 time to first byte at fixed rates, cold and warm.

1. Generates a repository (git fast-import, the same bytes every time): a 10k-file directory
   `big/`, a 5k-line Python file `src/big_module.py`, a README, 40 more commits each changing
   the big file, and a branch `feature` that changes 20 files.
2. Seeds a data directory (SQLite): root, a public project `root/bench`, pushed over HTTP to
   `kiln web` (gunicorn, as deployed), and a merge request from `feature`.
3. Measures, anonymously, with an open loop at 2 and 20 requests/s (latency from each
   request's scheduled time to the first byte of its answer, so a slow server cannot hide):
   the project home, the tree of the 10k-file directory (and the last-commit column htmx
   loads after it), the file view of the 5k-line file, the merge request's changes page, and
   the no-work route `/-/noop` alongside.

"Cold" runs the same `kiln web` with Django's cache replaced by the dummy backend (nothing
is ever cached: every request highlights, walks history, renders Markdown); "warm" is the
shipped configuration after one pass over each page. Files are in the OS page cache in both.

Targets (from the UI issue, on 2 cores): one third of GitLab's GPT web thresholds: project
home p90 <= 260 ms, file view p90 <= 1.3 s; reported for warm and cold at 20 requests/s.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench import load
from bench.api import _free_port, _wait_ready
from bench.git import GIT_ENV, git

REPO = Path(__file__).resolve().parent.parent
TOKEN = "glpat-bench-web-root-token-0"
PASSWORD = "bench-web-password-1"
RATES = (2, 20)
BIG_DIR_FILES = 10_000
BIG_FILE_LINES = 5_000
VARIANTS = 40
TARGETS_MS = {"project home": 260.0, "file view (5k lines)": 1300.0}
COLD_SETTINGS = (
    "from kiln.settings import *  # noqa: F403\n"
    'CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}\n'
)


# --- the repository -----------------------------------------------------------------------


def _big_module(variant: int) -> bytes:
    rng = random.Random(5000)
    lines = ['"""A generated module of the web benchmark."""', "", "import math", ""]
    while len(lines) < BIG_FILE_LINES - 1:
        n = len(lines)
        lines += [
            f"def function_{n}(value: int, *, scale: float = {rng.random():.3f}) -> float:",
            f'    """Return a number ({n}), variant {variant if n == 4 else 0}."""',
            f"    total = math.sqrt(value) * scale + {rng.randrange(1000)}",
            f"    return total if total > {rng.randrange(50)} else -total  # keep {n}",
            "",
        ]
    return ("\n".join(lines[: BIG_FILE_LINES - 1]) + f"\n# variant {variant}\n").encode()


def generate(path: Path) -> Path:
    git("init", "-q", "--bare", str(path))
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet"],
        cwd=path,
        stdin=subprocess.PIPE,
        env={**os.environ, **GIT_ENV},
    )
    assert proc.stdin is not None
    write = proc.stdin.write

    def blob(path_in_repo: str, data: bytes) -> None:
        write(f"M 100644 inline {path_in_repo}\n".encode())
        write(b"data %d\n%s\n" % (len(data), data))

    def commit(mark: int, message: str, parent: int | None, ref: str = "refs/heads/main") -> None:
        write(f"commit {ref}\nmark :{mark}\n".encode())
        write(f"committer Bench <bench@example.com> {1700000000 + mark * 60} +0000\n".encode())
        write(b"data %d\n%s\n" % (len(message), message.encode()))
        if parent is not None:
            write(f"from :{parent}\n".encode())

    commit(1, "Import the benchmark tree", None)
    readme = "# Bench\n\nA project for the *web* benchmark.\n\n" + "".join(
        f"- item {i} with `code` and a [link](big/file{i:05}.txt)\n" for i in range(50)
    )
    blob("README.md", readme.encode())
    for i in range(BIG_DIR_FILES):
        blob(f"big/file{i:05}.txt", f"file {i}\n".encode())
    for i in range(30):
        blob(f"src/pkg/mod{i}.py", f"VALUE = {i}\n".encode())
    blob("src/big_module.py", _big_module(0))
    write(b"\n")
    for n in range(1, VARIANTS + 1):
        commit(n + 1, f"Change the big module ({n})", n)
        blob("src/big_module.py", _big_module(n))
        write(b"\n")
    head = VARIANTS + 1
    commit(head + 1, "Rework twenty modules", head, "refs/heads/feature")
    for i in range(20):
        lines = "".join(f"VALUE_{j} = {i * j}\n" for j in range(40))
        blob(f"src/pkg/mod{i}.py", lines.encode())
    write(b"\n")
    write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    git("repack", "-adq", cwd=path)
    return path


def seed() -> None:
    """Migrate and seed root (run in a child process with the bench environment)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    django.setup()
    from django.core.management import call_command

    from kiln.accounts.services import seed_root

    call_command("migrate", interactive=False, verbosity=0)
    seed_root(password=PASSWORD, token_value=TOKEN)


# --- time to first byte ---------------------------------------------------------------------


class FirstByte(load.Connection):
    def ttfb(self, raw: bytes) -> tuple[int, float]:
        """Send, wait for the first byte (its time), then read the whole answer."""
        for attempt in (1, 2):
            sock = self.sock or self._connect()
            try:
                sock.sendall(raw)
                self._fill(sock)
                first = time.perf_counter()
                return self._read_response(sock), first
            except (ConnectionError, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def open_loop_ttfb(port: int, raws: list[bytes], *, rate: float, duration: float) -> load.Result:
    """`rate` requests a second, cycling through `raws`; latency = scheduled → first byte."""
    result = load.Result()
    lock = threading.Lock()
    jobs: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()

    def worker() -> None:
        conn = FirstByte("127.0.0.1", port)
        while (job := jobs.get()) is not None:
            scheduled, raw = job
            try:
                status, first = conn.ttfb(raw)
            except OSError:
                with lock:
                    result.errors += 1
                continue
            with lock:
                result.latencies.append(first - scheduled)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(32)]
    for thread in threads:
        thread.start()
    total = max(int(rate * duration), 1)
    start = time.perf_counter() + 0.05
    for i in range(total):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((at, raws[i % len(raws)]))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - start
    return result


# --- the server -----------------------------------------------------------------------------


class Server:
    def __init__(self, tmp: Path, data: Path, *, cold: bool) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PROMETHEUS_"))}
        env.update(
            KILN_DATA_DIR=str(data),
            KILN_LISTEN=f"127.0.0.1:{self.port}",
            KILN_SSH_LISTEN="",
            KILN_WEB_WORKERS=os.environ.get("KILN_WEB_WORKERS", str(os.cpu_count() or 2)),
            KILN_SECRET_KEY="bench-secret-key",
            KILN_LOG_LEVEL="WARNING",
            KILN_TASKS_IMMEDIATE="1",
            PYTHONPATH=os.pathsep.join([str(tmp), str(REPO)]),
        )
        if cold:
            (tmp / "kiln_bench_cold_settings.py").write_text(COLD_SETTINGS)
            env["DJANGO_SETTINGS_MODULE"] = "kiln_bench_cold_settings"
        self.env = env
        self.log = (tmp / f"web-{'cold' if cold else 'warm'}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiln.cli", "web"], env=env, stdout=self.log, stderr=self.log
        )
        _wait_ready(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _prepare(tmp: Path) -> tuple[Path, dict[str, Any]]:
    data = tmp / "data"
    data.mkdir()
    source = generate(tmp / "source.git")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env.update(KILN_DATA_DIR=str(data), PYTHONPATH=str(REPO), KILN_SECRET_KEY="bench-secret-key")
    subprocess.run(
        [sys.executable, "-c", "from bench.web import seed; seed()"],
        env=env,
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    server = Server(tmp, data, cold=False)
    try:
        headers = {"PRIVATE-TOKEN": TOKEN}
        api = f"{server.url}/api/v4"
        project = requests.post(
            f"{api}/projects",
            json={"name": "bench", "visibility": "public"},
            headers=headers,
            timeout=60,
        ).json()
        git("push", "-q", f"http://root:{TOKEN}@127.0.0.1:{server.port}/root/bench.git",
            "refs/heads/*:refs/heads/*", cwd=source)  # fmt: skip
        shas = git("rev-list", "--max-count", str(VARIANTS), "main", cwd=source).split()
        mr = requests.post(
            f"{api}/projects/{project['id']}/merge_requests",
            json={"source_branch": "feature", "target_branch": "main", "title": "Rework"},
            headers=headers,
            timeout=60,
        )
        time.sleep(3)  # let the post-push work (reconcile, maintenance) settle
    finally:
        server.stop()
    return data, {"shas": shas, "mr_iid": mr.json().get("iid") if mr.ok else None}


def _routes(facts: dict[str, Any], *, cold: bool) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Route name -> (paths, headers). Cold file views cycle through 40 commits, so even a
    cache that survived would miss; warm ones repeat one URL."""
    shas: list[str] = facts["shas"] if cold else ["main"]
    routes: dict[str, tuple[list[str], dict[str, str]]] = {
        "project home": (["/root/bench"], {}),
        "tree of 10k files": ([f"/root/bench/-/tree/{s}/big" for s in shas], {}),
        "tree 10k: last-commit column (htmx)": (
            [f"/root/bench/-/refs/{s}/logs_tree/big?offset=0" for s in shas],
            {"HX-Request": "true"},
        ),
        "file view (5k lines)": (
            [f"/root/bench/-/blob/{s}/src/big_module.py" for s in shas],
            {},
        ),
    }
    if facts.get("mr_iid"):
        routes["MR changes (20 files)"] = (
            [f"/root/bench/-/merge_requests/{facts['mr_iid']}/diffs"],
            {},
        )
    routes["/-/noop (no work)"] = (["/-/noop"], {})
    return routes


def _measure(
    server: Server, facts: dict[str, Any], *, cold: bool, duration: float
) -> list[dict[str, Any]]:
    rows = []
    for name, (paths, headers) in _routes(facts, cold=cold).items():
        status = requests.get(server.url + paths[0], headers=headers, timeout=120)
        if status.status_code != 200:
            rows.append({"page": name, "cache": "cold" if cold else "warm", "load": "-",
                         "note": f"HTTP {status.status_code}"})  # fmt: skip
            continue
        raws = [load.encode_get(path, "bench", headers) for path in paths]
        if not cold:
            for raw in raws:  # one pass per worker, so every process has it cached
                for _ in range(4):
                    FirstByte("127.0.0.1", server.port).ttfb(raw)
        for rate in RATES:
            result = open_loop_ttfb(server.port, raws, rate=rate, duration=duration)
            summary = result.summary()
            rows.append(
                {
                    "page": name,
                    "cache": "cold" if cold else "warm",
                    "load": f"{rate}/s",
                    "requests": summary["requests"],
                    "p50_ttfb_ms": summary["p50_ms"],
                    "p90_ttfb_ms": summary["p90_ms"],
                    "p99_ttfb_ms": summary["p99_ms"],
                    "non_2xx": summary["non_2xx"],
                    "errors": summary["errors"],
                }
            )
    return rows


def run(*, quick: bool = False) -> dict[str, Any]:
    duration = 6.0 if quick else 15.0
    with tempfile.TemporaryDirectory(prefix="kiln-bench-web-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        data, facts = _prepare(tmp)
        prepared_in = round(time.perf_counter() - started, 1)
        rows: list[dict[str, Any]] = []
        load_before = [round(x, 2) for x in os.getloadavg()]
        for cold in (True, False):
            server = Server(tmp, data, cold=cold)
            try:
                rows += _measure(server, facts, cold=cold, duration=duration)
            finally:
                server.stop()
    targets: dict[str, bool] = {}
    summary = [f"prepared in {prepared_in}s; load average before: {load_before}"]
    if not facts.get("mr_iid"):
        summary.append("MR changes page: the merge request could not be created; not measured")
    for page, limit in TARGETS_MS.items():
        for row in rows:
            if row["page"] == page and row["load"] == "20/s":
                met = row["p90_ttfb_ms"] <= limit
                targets[f"{page} ({row['cache']}): p90 TTFB at 20/s <= {limit:g} ms"] = met
    return {"rows": rows, "summary": summary, "targets": targets}


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
