"""A small HTTP/1.1 load generator on raw sockets: open-loop fixed rates and closed-loop peaks.

Only the standard library: `wrk` is not installed and an HTTP client library costs more CPU
per request than the server under test would like to share two cores with. Each connection is
kept alive; requests are pre-encoded; responses are read by Content-Length or chunked framing.

Open loop: requests are scheduled at fixed times (i / rate) whether or not earlier ones have
been answered, and latency is measured from the scheduled time, so a slow server shows up as
latency instead of silently lowering the rate (no coordinated omission).
"""

from __future__ import annotations

import queue
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(round(p / 100 * (len(ordered) - 1)), len(ordered) - 1)
        return ordered[index]

    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> dict[str, float | int]:
        return {
            "requests": self.count,
            "achieved_rps": round(self.rate(), 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p90_ms": round(self.percentile(90) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
            "non_2xx": self.non_2xx(),
            "errors": self.errors,
        }


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buffer = b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, raw: bytes) -> int:
        """Send one pre-encoded request and read the whole response; returns the status."""
        for attempt in (1, 2):
            sock = self.sock or self._connect()
            try:
                sock.sendall(raw)
                return self._read_response(sock)
            except (ConnectionError, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _fill(self, sock: socket.socket) -> None:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("server closed the connection")
        self.buffer += chunk

    def _read_response(self, sock: socket.socket) -> int:
        while b"\r\n\r\n" not in self.buffer:
            self._fill(sock)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            self._read_chunked(sock)
        else:
            length = int(headers.get(b"content-length", b"0"))
            while len(self.buffer) < length:
                self._fill(sock)
            self.buffer = self.buffer[length:]
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status

    def _read_chunked(self, sock: socket.socket) -> None:
        while True:
            while b"\r\n" not in self.buffer:
                self._fill(sock)
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                self._fill(sock)
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                return


def encode_get(path: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_loop(
    host: str, port: int, raw: bytes, *, rate: float, duration: float, connections: int = 48
) -> Result:
    """`rate` requests a second for `duration` seconds, each on time, answered or not."""
    result = Result()
    lock = threading.Lock()
    jobs: queue.SimpleQueue[float | None] = queue.SimpleQueue()

    def worker() -> None:
        conn = Connection(host, port)
        while (scheduled := jobs.get()) is not None:
            try:
                status = conn.request(raw)
            except OSError:
                with lock:
                    result.errors += 1
                continue
            done = time.perf_counter()
            with lock:
                result.latencies.append(done - scheduled)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    total = int(rate * duration)
    start = time.perf_counter() + 0.05
    for i in range(total):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put(at)
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - start
    return result


def closed_loop(host: str, port: int, raw: bytes, *, concurrency: int, duration: float) -> Result:
    """`concurrency` connections, each sending its next request as soon as the last returns."""
    result = Result()
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker() -> None:
        conn = Connection(host, port)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        errors = 0
        while (sent := time.perf_counter()) < stop_at:
            try:
                status = conn.request(raw)
            except OSError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors
            for status, n in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + n

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    return result
