"""What one rate-limit hit costs in each store Kiln could count in (docs/decisions/0001).

Measured in one process and with several processes hitting the same keys at once (gunicorn's
workers): the shared memory-mapped file Kiln uses without Redis, a per-process dict (what
Django's local-memory cache amounts to, and wrong across workers), Django's LocMemCache, an
SQLite table in the data directory, and Redis over a raw socket (when a server answers on
127.0.0.1:6379; the redis-py client would add its own overhead on top).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HITS = 20_000
PROCESSES = 2
Hit = Callable[[str], int]


def _shared(path: Path) -> Hit:
    from kiln.ops.shared import SharedCounters

    store = SharedCounters(path)
    return lambda key: store.hit(key, 60, time.time())[0]


def _local(path: Path) -> Hit:
    from kiln.ops.shared import LocalCounters

    store = LocalCounters()
    return lambda key: store.hit(key, 60, time.time())[0]


def _locmem(path: Path) -> Hit:
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        )
    from django.core.cache import caches

    cache = caches["default"]

    def hit(key: str) -> int:
        cache.add(key, 0, timeout=61)
        return int(cache.incr(key))

    return hit


def _sqlite(path: Path) -> Hit:
    db = sqlite3.connect(path.with_suffix(".sqlite3"), timeout=20, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, window INTEGER, count INTEGER)"
    )

    def hit(key: str) -> int:
        window = int(time.time()) // 60
        row = db.execute(
            "INSERT INTO hits VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET"
            " count = CASE WHEN window = excluded.window THEN count + 1 ELSE 1 END,"
            " window = excluded.window RETURNING count",
            (key, window),
        ).fetchone()
        return int(row[0])

    return hit


def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis(path: Path) -> Hit:
    sock = socket.create_connection(("127.0.0.1", 6379), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    prefix = f"kiln-bench-{os.getpid()}-{path.name}:"

    def command(*parts: str) -> bytes:
        out = f"*{len(parts)}\r\n".encode()
        for part in parts:
            data = part.encode()
            out += b"$%d\r\n%s\r\n" % (len(data), data)
        return out

    def hit(key: str) -> int:
        name = prefix + key
        # INCR and EXPIRE pipelined: one round trip, as a careful client would do it.
        sock.sendall(command("INCR", name) + command("EXPIRE", name, "61", "NX"))
        data = b""
        while data.count(b"\r\n") < 2:
            data += sock.recv(256)
        return int(data.split(b"\r\n", 1)[0][1:])

    return hit


STORES: dict[str, Callable[[Path], Hit]] = {
    "shared mmap file (Kiln)": _shared,
    "per-process dict": _local,
    "Django LocMemCache": _locmem,
    "SQLite table (WAL)": _sqlite,
    "Redis INCR+EXPIRE (raw socket)": _redis,
}


def _time_hits(factory: Callable[[Path], Hit], path: Path, hits: int) -> float:
    hit = factory(path)
    keys = [f"throttle:user:{n % 50}" for n in range(hits)]
    started = time.perf_counter()
    for key in keys:
        hit(key)
    return time.perf_counter() - started


def _child(name: str, path: str, hits: int, out: Any) -> None:
    out.put(_time_hits(STORES[name], Path(path), hits))


def run(*, quick: bool = False) -> dict[str, Any]:
    hits = 2_000 if quick else HITS
    rows = []
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="kiln-bench-rl-") as tmp:
        for name, factory in STORES.items():
            if "Redis" in name and not _redis_available():
                continue
            path = Path(tmp) / name.split()[0]
            single = _time_hits(factory, path, hits)
            queue = context.Queue()
            procs = [
                context.Process(target=_child, args=(name, str(path), hits, queue))
                for _ in range(PROCESSES)
            ]
            started = time.perf_counter()
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join()
            wall = time.perf_counter() - started
            per_proc = [queue.get() for _ in procs]
            rows.append(
                {
                    "store": name,
                    "shared by workers": "no"
                    if name in ("per-process dict", "Django LocMemCache")
                    else "yes",
                    "us/hit (1 process)": round(single / hits * 1e6, 2),
                    f"us/hit ({PROCESSES} processes)": round(max(per_proc) / hits * 1e6, 2),
                    f"hits/s ({PROCESSES} processes)": round(PROCESSES * hits / wall),
                }
            )
    return {
        "rows": rows,
        "summary": [f"{hits} hits per process over 50 keys, 60-second windows"],
        "setup": {"cpus": os.cpu_count(), "processes": PROCESSES, "hits": hits},
    }
