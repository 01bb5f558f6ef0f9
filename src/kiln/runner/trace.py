"""A job's log: masking, the output cap, sections, and its upload in increments.

Everything a job prints and everything the runner says about it goes through one `JobTrace`:

1. `Masker` replaces the values of masked variables (and the job token) with `[MASKED]`, and
   what follows a token prefix the server names (`glpat-...`) with `<prefix>[MASKED]`. A value
   may arrive split across reads, so the masker holds back the end of the stream while it
   could still be the start of a secret, and releases it when the next bytes (or the end of
   the job) decide.
2. The output cap (gitlab-runner's `output_limit`, 4 MiB by default): past it the log ends with
   "Job's log exceeded limit of N bytes.", `limit_exceeded` is set, and the job is stopped
   and fails. Nothing else is kept, so a script that prints forever costs bounded memory.
3. A sender thread `PATCH`es what is new (at most 1 MiB per request) right after the first
   bytes and then every update interval (3 s, or what the server asks with
   `X-GitLab-Trace-Update-Interval`); on 416 it resumes from the server's `Range`.
4. `finish()` sends the rest, then `PUT`s the final state with the trace's CRC32 and size,
   retrying on 202 and starting the trace over on 412, as gitlab-runner does.

ANSI escapes pass through untouched; the UI renders them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from kiln.runner.client import Coordinator, PatchState, UpdateState

log = logging.getLogger(__name__)

MASKED = b"[MASKED]"
TOKEN_CHARS = rb"[A-Za-z0-9_\-]"
MAX_TOKEN_HOLD = 4096  # a token longer than this is masked as far as it got
MAX_PATCH_SIZE = 1024 * 1024  # gitlab-runner's DefaultTracePatchLimit
MAX_UPDATE_INTERVAL = 60.0

ANSI_RESET = "\x1b[0;m"
ANSI_BOLD_RED = "\x1b[31;1m"
ANSI_BOLD_GREEN = "\x1b[32;1m"
ANSI_YELLOW = "\x1b[0;33m"
ANSI_BOLD_CYAN = "\x1b[36;1m"
ANSI_CLEAR = "\x1b[0K"

_SECTION_NAME = re.compile(r"[^a-z0-9_.-]")


class Masker:
    """Streaming replacement of secrets; `feed` may hold back a tail, `flush` releases it."""

    def __init__(self, values: Iterable[str], prefixes: Iterable[str] = ()) -> None:
        secrets = sorted({v.encode() for v in values if v}, key=len, reverse=True)
        token_prefixes = sorted({p.encode() for p in prefixes if p}, key=len, reverse=True)
        alternatives = []
        if secrets:
            alternatives.append(b"(?P<secret>" + b"|".join(re.escape(s) for s in secrets) + b")")
        if token_prefixes:
            alternatives.append(
                b"(?P<prefix>"
                + b"|".join(re.escape(p) for p in token_prefixes)
                + b")"
                + TOKEN_CHARS
                + b"+"
            )
        self._pattern = re.compile(b"|".join(alternatives)) if alternatives else None
        self._has_prefixes = bool(token_prefixes)
        self._secrets = secrets
        self._prefixes = token_prefixes
        self._longest = max(
            [len(s) - 1 for s in secrets] + [len(p) for p in token_prefixes], default=0
        )
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        return self._process(self._pending + data, final=False)

    def flush(self) -> bytes:
        return self._process(self._pending, final=True)

    def _hold_from(self, buf: bytes, matches: list[re.Match[bytes]]) -> int:
        """Where the undecided tail of `buf` starts (len(buf) when nothing is held)."""
        hold = len(buf)
        # A suffix that is a proper prefix of a secret may become the secret; one that is a
        # token prefix (or the start of one) may be followed by the token.
        for size in range(min(self._longest, len(buf)), 0, -1):
            tail = buf[-size:]
            if any(len(s) > size and s.startswith(tail) for s in self._secrets) or any(
                p.startswith(tail) for p in self._prefixes
            ):
                hold = len(buf) - size
                break
        # A token that runs to the end of the buffer may go on.
        for match in matches:
            if (
                self._has_prefixes
                and match.group("prefix") is not None
                and match.end() == len(buf)
                and match.end() - match.start() < MAX_TOKEN_HOLD
            ):
                hold = min(hold, match.start())
        # A complete match never straddles the cut: it is masked now, whole.
        for match in matches:
            if match.start() < hold < match.end():
                hold = match.end()
        return hold

    def _process(self, buf: bytes, *, final: bool) -> bytes:
        if self._pattern is None:
            self._pending = b""
            return buf
        matches = list(self._pattern.finditer(buf))
        hold = len(buf) if final else self._hold_from(buf, matches)
        out = bytearray()
        position = 0
        for match in matches:
            if match.end() > hold:
                break
            out += buf[position : match.start()]
            prefix = match.group("prefix") if self._has_prefixes else None
            out += (prefix + MASKED) if prefix is not None else MASKED
            position = match.end()
        out += buf[position:hold]
        self._pending = buf[hold:]
        return bytes(out)


def section_name(name: str) -> str:
    return _SECTION_NAME.sub("_", name.lower())[:100] or "section"


class JobTrace:
    """The log of one running job, and the thread that uploads it."""

    def __init__(
        self,
        coordinator: Coordinator,
        *,
        job_id: int,
        job_token: str,
        info: dict[str, Any],
        masked_values: Iterable[str] = (),
        token_mask_prefixes: Iterable[str] = (),
        limit: int = 4 * 1024 * 1024,
        update_interval: float = 3.0,
        force_send_interval: float = 30.0,
        final_update_timeout: float = 300.0,
        max_patch_size: int = MAX_PATCH_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.coordinator = coordinator
        self.job_id = job_id
        self.job_token = job_token
        self.info = info
        self.limit = limit
        self.max_patch_size = max_patch_size
        self.force_send_interval = force_send_interval
        self.final_update_timeout = final_update_timeout
        self._clock = clock
        self._masker = Masker(masked_values, token_mask_prefixes)
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._crc = 0
        self._sent = 0
        self._capped = False
        self._interval = update_interval
        self._last_contact = clock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        # Set by the sender thread or the cap; the executor watches them.
        self.limit_exceeded = threading.Event()
        self.abort_requested = threading.Event()  # the server says the job is over (403, failed)
        self.cancel_requested = threading.Event()  # the server says `canceling`

    # -- writing ----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Output of the job (masked, capped)."""
        with self._lock:
            self._append(self._masker.feed(data), force=False)
            first = self._sent == 0 and len(self._buffer) > 0
        if first:
            self._wake.set()

    def _append(self, data: bytes, *, force: bool) -> None:
        """Caller holds the lock. `force` lets the runner's last words past the cap."""
        if not data:
            return
        if self._capped and not force:
            return
        room = self.limit - len(self._buffer)
        if force or len(data) <= room:
            kept = data
        else:
            kept = data[: max(room, 0)]
            kept += (
                f"\n{ANSI_BOLD_RED}Job's log exceeded limit of {self.limit} bytes.{ANSI_RESET}\n"
            ).encode()
            self._capped = True
            self.limit_exceeded.set()
        self._buffer += kept
        self._crc = zlib.crc32(kept, self._crc)

    def system(self, text: str, color: str = "") -> None:
        """A line of the runner's own, still masked; shown even past the cap."""
        line = f"{color}{text}{ANSI_RESET}\n" if color else f"{text}\n"
        with self._lock:
            self._append(self._masker.feed(line.encode()), force=True)

    def notice(self, text: str) -> None:
        self.system(text, ANSI_BOLD_GREEN)

    def warning(self, text: str) -> None:
        self.system(f"WARNING: {text}", ANSI_YELLOW)

    def error(self, text: str) -> None:
        self.system(f"ERROR: {text}", ANSI_BOLD_RED)

    def section_start(self, name: str, header: str) -> None:
        marker = f"section_start:{int(time.time())}:{section_name(name)}\r{ANSI_CLEAR}"
        with self._lock:
            self._append(
                self._masker.feed(f"{marker}{ANSI_BOLD_CYAN}{header}{ANSI_RESET}\n".encode()),
                force=True,
            )

    def section_end(self, name: str) -> None:
        marker = f"section_end:{int(time.time())}:{section_name(name)}\r{ANSI_CLEAR}"
        with self._lock:
            self._append(self._masker.feed(marker.encode()), force=True)

    # -- state ------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._buffer)

    def checksum(self) -> str:
        with self._lock:
            return f"crc32:{self._crc:08x}"

    def content(self) -> bytes:
        with self._lock:
            return bytes(self._buffer)

    @property
    def should_stop(self) -> bool:
        """The job must end now: the server gave up on it, canceled it, or the log is full."""
        return (
            self.abort_requested.is_set()
            or self.cancel_requested.is_set()
            or self.limit_exceeded.is_set()
        )

    # -- sending ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._watch, name=f"trace-{self.job_id}", daemon=True
        )
        self._thread.start()

    def _set_interval(self, interval: float) -> None:
        if interval > 0:
            self._interval = min(interval, MAX_UPDATE_INTERVAL)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._send_pending()
                self._touch_if_idle()
            except Exception:  # the sender must outlive any one bad answer
                log.exception("job %s: sending the trace failed", self.job_id)

    def _send_patch(self) -> PatchState | None:
        """One PATCH of what the server lacks; None when there was nothing to send."""
        with self._lock:
            offset = self._sent
            content = bytes(self._buffer[offset : offset + self.max_patch_size])
        if not content:
            return None
        result = self.coordinator.patch_trace(self.job_id, self.job_token, content, offset)
        self._set_interval(result.update_interval)
        if result.cancel_requested:
            self.cancel_requested.set()
        if result.state in (PatchState.SUCCEEDED, PatchState.RANGE_MISMATCH):
            with self._lock:
                self._sent = min(max(result.sent_offset, 0), len(self._buffer))
                self._last_contact = self._clock()
            if result.state is PatchState.RANGE_MISMATCH:
                log.info("job %s: trace range mismatch, resuming at %s", self.job_id, self._sent)
        elif result.state is PatchState.ABORT:
            self.abort_requested.set()
        return result.state

    def _send_pending(self) -> None:
        # Keep going while patches succeed and more is waiting (a burst larger than one patch).
        while not self._stop.is_set():
            state = self._send_patch()
            if state is not PatchState.SUCCEEDED:
                return
            with self._lock:
                if self._sent >= len(self._buffer):
                    return

    def _touch_if_idle(self) -> None:
        """Tell the server the job still runs when nothing was sent for a while (and learn
        whether it was canceled meanwhile), as gitlab-runner's `touchJob`."""
        if self._clock() - self._last_contact < self.force_send_interval:
            return
        result = self.coordinator.update_job(
            self.job_id,
            self.job_token,
            state="running",
            info=self.info,
            checksum=self.checksum(),
            bytesize=self.size,
        )
        self._set_interval(result.update_interval)
        if result.cancel_requested:
            self.cancel_requested.set()
        if result.state is UpdateState.SUCCEEDED:
            self._last_contact = self._clock()
        elif result.state is UpdateState.ABORT:
            self.abort_requested.set()

    def _ensure_all_sent(self, deadline: float) -> None:
        while self._clock() < deadline:
            with self._lock:
                if self._sent >= len(self._buffer):
                    return
            state = self._send_patch()
            if state in (None, PatchState.SUCCEEDED):
                continue
            if state in (PatchState.ABORT, PatchState.NOT_FOUND):
                return
            if state is PatchState.FAILED:
                time.sleep(self._interval)
            # RANGE_MISMATCH: the offset moved to the server's; send again at once.

    def finish(
        self, *, state: str, failure_reason: str = "", exit_code: int | None = None
    ) -> UpdateState:
        """Flush the masker, stop the sender, send the rest and the final state.

        Returns the last answer to `PUT /jobs/:id`; gives up after `final_update_timeout`.
        """
        with self._lock:
            self._append(self._masker.flush(), force=True)
            self._finished = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        deadline = self._clock() + self.final_update_timeout
        while True:
            self._ensure_all_sent(deadline)
            result = self.coordinator.update_job(
                self.job_id,
                self.job_token,
                state=state,
                info=self.info,
                failure_reason=failure_reason,
                exit_code=exit_code,
                checksum=self.checksum(),
                bytesize=self.size,
            )
            self._set_interval(result.update_interval)
            if result.state in (UpdateState.SUCCEEDED, UpdateState.ABORT, UpdateState.NOT_FOUND):
                return result.state
            if result.state is UpdateState.TRACE_VALIDATION_FAILED:
                # The server's copy differs from ours: send all of it again from the start.
                with self._lock:
                    self._sent = 0
            if self._clock() >= deadline:
                log.error(
                    "job %s: the coordinator did not accept the final update (%s); giving up",
                    self.job_id,
                    result.state.value,
                )
                return result.state
            time.sleep(self._interval)
