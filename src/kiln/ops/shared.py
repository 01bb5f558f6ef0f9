"""Counters shared by every process of one host, in a small memory-mapped file.

gunicorn runs several worker processes; a rate limit counted per process would let a client
through N times its limit, and Redis is optional. This store keeps fixed-window counters in a
file under the data directory, mapped into every process (see
docs/decisions/0001-rate-limit-store.md for why and what it costs: a few microseconds a hit).

Layout: a 64-byte header (magic, version, the settings generation number), then an
open-addressed table of 16-byte slots `(key hash: u64, window end: u32, count: u32)`. A slot
whose window has ended is free. Writers take a thread lock and then an fcntl lock on the file
(POSIX record locks are per process, so threads need their own lock first).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

_MAGIC = 0x4B4C4E31  # "KLN1"
_HEADER = struct.Struct("<IIQ")  # magic, slot count, settings generation
_HEADER_SIZE = 64
_SLOT = struct.Struct("<QII")  # key hash, window end (unix seconds), count
_PROBES = 16


def _key_hash(key: str, period: int, window: int) -> int:
    digest = hashlib.blake2b(f"{key}\0{period}\0{window}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


class Counters(Protocol):
    def hit(self, key: str, period: int, now: float) -> tuple[int, int]:
        """Count one request for `key` in the current window of `period` seconds.

        Returns the count so far in this window (this request included) and the unix time
        the window ends.
        """
        ...

    def clear(self) -> None: ...


class SharedCounters:
    """Fixed-window counters in a file mapped by every process of the host."""

    def __init__(self, path: Path, *, slots: int = 1 << 16) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        size = _HEADER_SIZE + slots * _SLOT.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._thread_lock = threading.Lock()
        with self._locked_file():
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)
            self._map = mmap.mmap(self._fd, size)
            magic, count, _ = _HEADER.unpack_from(self._map, 0)
            if magic != _MAGIC or count != slots:
                self._map[:size] = bytes(size)
                _HEADER.pack_into(self._map, 0, _MAGIC, slots, 0)
        self._slots = slots

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def hit(self, key: str, period: int, now: float) -> tuple[int, int]:
        window = int(now) // period
        ends = (window + 1) * period
        wanted = _key_hash(key, period, window)
        second = int(now)
        with self._locked_file():
            victim = -1
            victim_ends = 1 << 32
            for probe in range(_PROBES):
                index = (wanted + probe) % self._slots
                offset = _HEADER_SIZE + index * _SLOT.size
                found, slot_ends, count = _SLOT.unpack_from(self._map, offset)
                if found == wanted and slot_ends == ends:
                    _SLOT.pack_into(self._map, offset, wanted, ends, count + 1)
                    return count + 1, ends
                if slot_ends <= second:
                    slot_ends = 0  # expired: free
                if slot_ends < victim_ends:
                    victim, victim_ends = offset, slot_ends
            # Not counted yet: take a free slot, else the one whose window ends first (a
            # full neighbourhood means far more clients than slots; forgetting one is the
            # least harm).
            _SLOT.pack_into(self._map, victim, wanted, ends, 1)
            return 1, ends

    def generation(self) -> int:
        return int(_HEADER.unpack_from(self._map, 0)[2])

    def bump(self) -> None:
        with self._locked_file():
            magic, slots, generation = _HEADER.unpack_from(self._map, 0)
            _HEADER.pack_into(self._map, 0, magic, slots, generation + 1)

    def clear(self) -> None:
        with self._locked_file():
            end = _HEADER_SIZE + self._slots * _SLOT.size
            self._map[_HEADER_SIZE:end] = bytes(end - _HEADER_SIZE)


class LocalCounters:
    """Per-process counters: the fallback when the data directory cannot hold the shared file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int, int], int] = {}
        self._generation = 0

    def hit(self, key: str, period: int, now: float) -> tuple[int, int]:
        window = int(now) // period
        with self._lock:
            if len(self._counts) > 100_000:
                second = int(now)
                self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > second}
            count = self._counts.get((key, period, window), 0) + 1
            self._counts[(key, period, window)] = count
        return count, (window + 1) * period

    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        self._generation += 1

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


class CacheCounters:
    """Counters in Django's cache: used when KILN_REDIS_URL makes that cache shared by hosts."""

    def hit(self, key: str, period: int, now: float) -> tuple[int, int]:
        from django.core.cache import cache

        window = int(now) // period
        name = f"kiln:rl:{_key_hash(key, period, window):x}"
        cache.add(name, 0, timeout=period + 1)
        try:
            count = int(cache.incr(name))
        except ValueError:  # expired between add and incr
            cache.add(name, 1, timeout=period + 1)
            count = 1
        return count, (window + 1) * period

    def clear(self) -> None:
        from django.core.cache import cache

        cache.clear()


_store: SharedCounters | LocalCounters | None = None
_store_lock = threading.Lock()


def host_store() -> SharedCounters | LocalCounters:
    """This host's shared counters (one mapping per process)."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                from django.conf import settings

                path = Path(settings.DATA_DIR) / "run" / "shared-counters"
                try:
                    _store = SharedCounters(path)
                except OSError as exc:
                    log.warning(
                        "cannot map %s (%s): rate limits and settings changes are per process",
                        path,
                        exc.strerror,
                    )
                    _store = LocalCounters()
    return _store


def now() -> float:
    return time.time()
