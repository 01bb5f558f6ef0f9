"""`kiln web`: gunicorn with threads, configured from KILN_* variables.

gunicorn is chosen for two properties the API needs (see DESIGN.md): it passes the raw
request path as RAW_URI, and it streams chunked request bodies and responses.
"""

from __future__ import annotations

import os
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


def run_web() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    from django.conf import settings

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
        # Trusting X-Forwarded-* only from loopback by default (a local reverse proxy).
        "forwarded_allow_ips": os.environ.get("KILN_TRUSTED_PROXIES", "127.0.0.1,::1"),
    }
    _Server(options).run()
    return 0
