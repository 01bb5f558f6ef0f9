"""The peers Kiln's git transport is measured against, started for one benchmark run.

- `git http-backend` as CGI under lighttpd with request and response streaming on, the way
  git's documentation sets it up (Debian's lighttpd; `make bench` says how to install it).
- OpenSSH's sshd running `git-upload-pack`, when sshd is installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class HttpBackend:
    """lighttpd + git-http-backend serving every repository under `project_root` at /git/."""

    def __init__(self, project_root: Path) -> None:
        if shutil.which("lighttpd") is None or not HTTP_BACKEND.exists():
            raise RuntimeError("lighttpd and git are needed: apt-get install lighttpd git")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-bench-lighttpd-"))
        config = self.dir / "lighttpd.conf"
        config.write_text(
            f"""
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.document-root = "{self.dir}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = "{self.dir}/error.log"
server.stream-request-body = 2
server.stream-response-body = 2
server.max-connections = 1024
alias.url = ("/git" => "{HTTP_BACKEND}")
$HTTP["url"] =~ "^/git" {{
    cgi.assign = ("" => "")
    setenv.add-environment = (
        "GIT_PROJECT_ROOT" => "{project_root}",
        "GIT_HTTP_EXPORT_ALL" => "1",
        "REMOTE_USER" => "bench",
    )
}}
"""
        )
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", str(config)])
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}/git"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class OpenSSHD:
    """sshd on a free port, letting one key run git commands as the current user."""

    def __init__(self, public_key: str) -> None:
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not Path(sshd).exists():
            raise RuntimeError("sshd is not installed (apt-get install openssh-server)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-bench-sshd-"))
        host_key = self.dir / "host_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
        )
        keys = self.dir / "authorized_keys"
        keys.write_text(public_key + "\n")
        keys.chmod(0o600)
        config = self.dir / "sshd_config"
        config.write_text(
            f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {keys}
PasswordAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile {self.dir}/sshd.pid
"""
        )
        Path("/run/sshd").mkdir(exist_ok=True)
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)])
        wait_port(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
