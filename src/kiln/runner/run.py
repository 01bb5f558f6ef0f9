"""`kiln runner run`: ask the coordinator for jobs and run up to `concurrent` of them at once.

One thread polls `POST /jobs/request` while a slot is free; each job runs in its own thread
(the executors spend their time in child processes and HTTP, not in Python). When the
coordinator has nothing, the next request waits until `check_interval` has passed since the
last one began (a long-polling coordinator holds the request itself, so the runner asks again
at once); on errors it backs off exponentially up to a minute.

Stopping (SIGTERM or SIGINT, or `request_stop()`): no new jobs are requested; running jobs get
`shutdown_timeout` seconds to finish; then (or at a second signal) they are stopped, reported
failed with `runner_system_failure`, and their final updates are sent before the process exits.
"""

from __future__ import annotations

import logging
import threading
import time

from kiln.runner.build import run_job
from kiln.runner.client import Coordinator, CoordinatorError, RunnerForbidden, runner_info
from kiln.runner.config import RunnerConfig
from kiln.runner.executors import Executor, make_executor

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


class Runner:
    def __init__(
        self,
        config: RunnerConfig,
        *,
        coordinator: Coordinator | None = None,
        executor: Executor | None = None,
        update_interval: float = 3.0,
    ) -> None:
        self.config = config
        self.coordinator = coordinator or Coordinator(config.url)
        self.executor = executor or make_executor(config, self.coordinator)
        self.update_interval = update_interval
        self.stopping = threading.Event()  # no new jobs
        self.shutdown = threading.Event()  # running jobs must stop now
        self._lock = threading.Lock()
        self._jobs: dict[int, threading.Thread] = {}  # slot -> thread
        self._slot_freed = threading.Event()
        self.jobs_started = 0

    # -- control ----------------------------------------------------------------------------

    def request_stop(self, *, force: bool = False) -> None:
        if force or self.stopping.is_set():
            if not self.shutdown.is_set():
                log.warning("stopping running jobs now")
            self.shutdown.set()
        else:
            log.info("stopping: no new jobs; running jobs may finish")
        self.stopping.set()
        self._slot_freed.set()

    @property
    def running_jobs(self) -> int:
        with self._lock:
            return sum(1 for thread in self._jobs.values() if thread.is_alive())

    # -- loop -------------------------------------------------------------------------------

    def log_startup(self) -> None:
        log.info(
            "kiln runner: %s, executor %s, up to %d concurrent job(s), builds in %s",
            self.config.url,
            self.executor.name,
            self.config.concurrent,
            self.config.builds_path,
        )
        for level, message in self.executor.startup_notes():
            getattr(log, level if level in ("info", "warning", "error") else "info")(message)

    def _free_slot(self) -> int | None:
        with self._lock:
            for slot in range(self.config.concurrent):
                thread = self._jobs.get(slot)
                if thread is None or not thread.is_alive():
                    return slot
        return None

    def _start_job(self, slot: int, payload: dict[str, object]) -> None:
        def body() -> None:
            try:
                run_job(
                    payload,
                    config=self.config,
                    coordinator=self.coordinator,
                    executor=self.executor,
                    slot=slot,
                    shutdown=self.shutdown,
                    update_interval=self.update_interval,
                )
            except Exception:  # a job thread must never take the runner down
                log.exception("a job thread failed")
            finally:
                self._slot_freed.set()

        thread = threading.Thread(target=body, name=f"job-slot-{slot}", daemon=True)
        with self._lock:
            self._jobs[slot] = thread
            self.jobs_started += 1
        thread.start()

    def _poll(self) -> None:
        info = runner_info(executor=self.executor.name, features=self.executor.features())
        backoff = 0.0
        while not self.stopping.is_set():
            slot = self._free_slot()
            if slot is None:
                self._slot_freed.wait(1.0)
                self._slot_freed.clear()
                continue
            began = time.monotonic()
            try:
                payload = self.coordinator.request_job(
                    self.config.token, system_id=self.config.system_id, info=info
                )
            except RunnerForbidden as exc:
                backoff = min(max(backoff * 2, 5.0), MAX_BACKOFF)
                log.error("checking for jobs... forbidden (%s); retrying in %.0fs", exc, backoff)
                self.stopping.wait(backoff)
                continue
            except CoordinatorError as exc:
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                log.warning("checking for jobs... failed (%s); retrying in %.0fs", exc, backoff)
                self.stopping.wait(backoff)
                continue
            backoff = 0.0
            if payload is not None:
                log.info("checking for jobs... received job %s", payload.get("id"))
                self._start_job(slot, payload)
                continue
            remaining = self.config.check_interval - (time.monotonic() - began)
            if remaining > 0:
                self.stopping.wait(remaining)

    def run(self) -> int:
        """Serve until `request_stop()`; returns the process exit status."""
        self.log_startup()
        poller = threading.Thread(target=self._poll, name="poll", daemon=True)
        poller.start()
        self.stopping.wait()
        deadline = time.monotonic() + self.config.shutdown_timeout
        while self.running_jobs and not self.shutdown.is_set():
            if time.monotonic() >= deadline:
                log.warning(
                    "jobs still running after %.0fs; stopping them", self.config.shutdown_timeout
                )
                self.shutdown.set()
                break
            self._slot_freed.wait(0.2)
            self._slot_freed.clear()
        # The poller may be inside a long poll: it is a daemon, and a job it receives from now
        # on finds `shutdown` set and is failed at once (joined below if it came in time).
        self.shutdown.set()
        poller.join(timeout=1.0)
        while True:
            with self._lock:
                threads = [thread for thread in self._jobs.values() if thread.is_alive()]
            if not threads:
                break
            for thread in threads:
                thread.join()
        log.info("kiln runner stopped")
        return 0
