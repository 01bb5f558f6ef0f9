"""A live Kiln WSGI server in a thread, passing RAW_URI as gunicorn does."""

from __future__ import annotations

import threading
from typing import Any

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from django.db import connections


class RawURIHandler(WSGIRequestHandler):
    # TCP_NODELAY: keep-alive clients (python-gitlab's session) otherwise wait ~40 ms a request.
    disable_nagle_algorithm = True

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadedWSGIServer):
    daemon_threads = True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            connections.close_all()


class LiveServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.httpd = _Server((host, 0), RawURIHandler, allow_reuse_address=False)
        self.httpd.set_app(get_wsgi_application())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
