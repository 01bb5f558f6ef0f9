"""`kiln web`: gunicorn with threads, configured from KILN_* variables.

gunicorn is chosen for two properties the API needs (see DESIGN.md): it passes the raw
request path as RAW_URI, and it streams chunked request bodies and responses.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from kiln.core.config import env_int


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from kiln.wsgi import application

        return application


def _child_exit(server: Any, worker: Any) -> None:
    # A dead worker's live gauges must not be summed any more (its counters stay: they count
    # what it served).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def run_web() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    from django.conf import settings

    # Each worker process writes its samples to files here and /-/metrics sums them. The
    # variable must be set before prometheus_client is first imported in a worker (it picks
    # its storage at import): the app is loaded only after the fork, so this is early enough,
    # and nothing imported so far pulls prometheus_client in.
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess directory")
    metrics_dir = settings.DATA_DIR / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    options = {
        "bind": settings.LISTEN,
        "workers": env_int("KILN_WEB_WORKERS", 2),
        "worker_class": "gthread",
        "threads": env_int("KILN_WEB_THREADS", 16),
        "timeout": env_int("KILN_WEB_TIMEOUT", 120),
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "kiln-web",
        "child_exit": _child_exit,
        # Trusting X-Forwarded-* only from loopback by default (a local reverse proxy).
        "forwarded_allow_ips": os.environ.get("KILN_TRUSTED_PROXIES", "127.0.0.1,::1"),
    }
    _Server(options).run()
    return 0
