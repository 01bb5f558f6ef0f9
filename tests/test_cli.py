"""The `kiln` command, run for real: first start, second start, Ctrl-C, check, token, user.

Each server is the real entry point (`kiln serve`: migrations, seeding, gunicorn and the
worker as children) in a temporary data directory on a free port. Two first starts run at
once per module (one with generated secrets, one with given ones) to keep the module fast.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

KILN = str(Path(sys.executable).parent / "kiln")
GIVEN_PASSWORD = "given-password-123"
GIVEN_TOKEN = "glpat-given-token-abcdefghij"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kiln-cli")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PROMETHEUS_"))}
    # The test suite's own database URL (PostgreSQL runs) must not leak into these servers:
    # each gets SQLite in its own data directory.
    env.update(
        KILN_DATA_DIR=str(data_dir),
        KILN_LISTEN=f"127.0.0.1:{port}",
        KILN_SSH_LISTEN="",
        KILN_WEB_WORKERS="2",
        KILN_WEB_THREADS="4",
        DJANGO_SETTINGS_MODULE="kiln.settings",
    )
    env.update(extra)
    return env


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Serve:
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return "http://" + self.env["KILN_LISTEN"]

    def start(self, **extra: str) -> Serve:
        self.lines = []
        self.log_path = self.data_dir.parent / f"serve-{time.monotonic_ns()}.log"
        env = {**self.env, **extra}
        with self.log_path.open("w") as log:
            # Its own session: a signal to its group is what a terminal's Ctrl-C does.
            self.process = subprocess.Popen(
                [KILN, "serve"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        stdout = self.process.stdout
        assert stdout is not None
        threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True).start()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"kiln serve exited {self.process.returncode}: {self.output}")
            try:
                if requests.get(f"{self.url}/-/readiness", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"kiln serve did not become ready: {self.output}")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def log(self) -> str:
        assert self.log_path is not None
        return self.log_path.read_text()

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)
        return self.process.wait(timeout=timeout)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Serve]]:
    root = tmp_path_factory.mktemp("cli")
    generated = Serve(root / "generated" / "data", _env(root / "generated" / "data", _free_port()))
    given = Serve(
        root / "given" / "data",
        _env(
            root / "given" / "data",
            _free_port(),
            KILN_ROOT_PASSWORD=GIVEN_PASSWORD,
            KILN_ROOT_TOKEN=GIVEN_TOKEN,
            KILN_SSH_LISTEN=f"127.0.0.1:{_free_port()}",
        ),
    )
    for serve in (generated, given):
        serve.data_dir.parent.mkdir(parents=True)
        serve.start()
    for serve in (generated, given):
        serve.wait_ready()
    both = {"generated": generated, "given": given}
    yield both
    for serve in both.values():
        if serve.process is not None and serve.process.poll() is None:
            os.killpg(serve.process.pid, signal.SIGTERM)
    for serve in both.values():
        serve.stop(signal.SIGTERM)


def _secrets(output: str) -> tuple[list[str], list[str]]:
    passwords = re.findall(r"root password: (\S+)", output)
    tokens = re.findall(r"root personal access token \(api, sudo\): (\S+)", output)
    return passwords, tokens


def _sign_in(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/users/sign_in", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf is not None
    response = session.post(
        f"{url}/users/sign_in",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf[1]},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return session


def _api_user(url: str, token: str) -> Any:
    # Closed after use: an idle kept-alive connection makes gunicorn linger when stopping.
    with gitlab.Gitlab(url, private_token=token, retry_transient_errors=False, timeout=10) as gl:
        gl.auth()
        return gl.user


def test_first_start_prints_generated_secrets_once_and_they_work(
    servers: dict[str, Serve],
) -> None:
    serve = servers["generated"]
    passwords, tokens = _secrets(serve.output)
    assert len(passwords) == 1, serve.output
    assert len(tokens) == 1, serve.output
    assert tokens[0].startswith("glpat-")
    assert serve.output.count("Created the administrator 'root' (id 1).") == 1
    # Nothing secret in the logs.
    assert passwords[0] not in serve.log
    assert tokens[0] not in serve.log
    user = _api_user(serve.url, tokens[0])
    assert (user.id, user.username, user.name, user.is_admin) == (1, "root", "Administrator", True)
    with _sign_in(serve.url, "root", passwords[0]) as session:
        assert session.get(f"{serve.url}/api/v4/user", timeout=10).json()["username"] == "root"


def test_given_secrets_are_honoured_and_never_printed(servers: dict[str, Serve]) -> None:
    serve = servers["given"]
    assert "Created the administrator 'root' (id 1)." in serve.output
    assert _secrets(serve.output) == ([], [])
    assert GIVEN_PASSWORD not in serve.output + serve.log
    assert GIVEN_TOKEN not in serve.output + serve.log
    assert _api_user(serve.url, GIVEN_TOKEN).username == "root"
    _sign_in(serve.url, "root", GIVEN_PASSWORD).close()


def test_ctrl_c_stops_every_process_then_a_second_start_reuses_the_data(
    servers: dict[str, Serve],
) -> None:
    serve = servers["given"]
    assert serve.process is not None
    tree = _descendants(serve.process.pid)
    roles = {_cmdline(pid).rsplit(" ", 1)[-1] for pid in tree}
    assert {"web", "worker", "ssh"} <= roles
    assert len(tree) >= 5  # web master, two web workers, the worker, the SSH server
    assert serve.stop(signal.SIGINT) == 0
    assert "Kiln stopped." in serve.output
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)], "orphaned processes"

    # Second start: same data, new secrets in the environment are ignored, nothing printed.
    serve.start(KILN_ROOT_PASSWORD="another-password-1", KILN_ROOT_TOKEN="glpat-another-token-0")
    serve.wait_ready()
    assert "Created the administrator" not in serve.output
    assert _secrets(serve.output) == ([], [])
    assert _api_user(serve.url, GIVEN_TOKEN).username == "root"
    users = requests.get(
        f"{serve.url}/api/v4/users", headers={"PRIVATE-TOKEN": GIVEN_TOKEN}, timeout=10
    ).json()
    assert [u["username"] for u in users] == ["root"]
    unauthorized = requests.get(
        f"{serve.url}/api/v4/user", headers={"PRIVATE-TOKEN": "glpat-another-token-0"}, timeout=10
    )
    assert unauthorized.status_code == 401


def test_when_one_child_dies_everything_stops(servers: dict[str, Serve]) -> None:
    serve = servers["given"]
    assert serve.process is not None
    tree = _descendants(serve.process.pid)
    worker = next(pid for pid in tree if _cmdline(pid).endswith(" worker"))
    os.kill(worker, signal.SIGKILL)
    assert serve.process.wait(timeout=30) == 1
    assert "the worker process exited" in serve.output
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)], "orphaned processes"


def test_metrics_and_logs_across_gunicorn_workers(servers: dict[str, Serve]) -> None:
    serve = servers["generated"]

    def count() -> float:
        text = requests.get(f"{serve.url}/-/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("kiln_http_requests_total{") and 'route="-/liveness"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()

    def hit(n: int) -> int:
        headers = {"Connection": "close", "X-Request-Id": f"multi-{n}"}
        return requests.get(f"{serve.url}/-/liveness", headers=headers, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(hit, range(60))) == {200}
    assert count() - before == 60
    entries = [json.loads(line) for line in serve.log.splitlines() if line.startswith("{")]
    served = [e for e in entries if e.get("correlation_id", "").startswith("multi-")]
    assert len(served) == 60
    assert {e["route"] for e in served} == {"-/liveness"}
    # Both workers answered, and the scrape summed them.
    assert len({e["pid"] for e in served}) == 2


def test_request_id_in_the_real_servers_log(servers: dict[str, Serve]) -> None:
    serve = servers["generated"]
    response = requests.get(
        f"{serve.url}/api/v4/version", headers={"X-Request-Id": "abc"}, timeout=10
    )
    assert response.headers["X-Request-Id"] == "abc"
    entries = [json.loads(line) for line in serve.log.splitlines() if line.startswith("{")]
    [entry] = [e for e in entries if e.get("correlation_id") == "abc"]
    assert entry["path"] == "/api/v4/version"
    assert entry["status"] == 401


def _kiln(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KILN, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_token_create_prints_a_working_token(servers: dict[str, Serve]) -> None:
    serve = servers["generated"]
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    runs = [
        ["--user", "root", "--scopes", "api,read_repository", "--expires", expires],
        ["--user", "nobody", "--scopes", "api"],
        ["--user", "root", "--scopes", "api,everything"],
    ]
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        result, missing, bad = pool.map(
            lambda argv: _kiln("token", "create", *argv, env=serve.env), runs
        )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert re.fullmatch(r"glpat-\S{20,}", token)
    assert _api_user(serve.url, token).username == "root"
    tokens = requests.get(
        f"{serve.url}/api/v4/personal_access_tokens/self",
        headers={"PRIVATE-TOKEN": token},
        timeout=10,
    )
    if tokens.status_code == 200:
        assert sorted(tokens.json()["scopes"]) == ["api", "read_repository"]
        assert tokens.json()["expires_at"] == expires

    assert missing.returncode != 0
    assert "nobody" in missing.stderr
    assert bad.returncode != 0
    assert "scopes can only contain available scopes" in bad.stderr


def test_user_create(servers: dict[str, Serve]) -> None:
    serve = servers["generated"]
    result = _kiln(
        "user", "create", "--username", "alice", "--email", "alice@example.com",
        env=serve.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    password = re.search(r"password: (\S+)", result.stdout)
    assert password is not None
    _sign_in(serve.url, "alice", password[1]).close()
    again = _kiln(
        "user", "create", "--username", "ALICE", "--email", "other@example.com", env=serve.env
    )
    assert again.returncode != 0
    assert "taken" in again.stderr


def test_check(servers: dict[str, Serve], tmp_path: Path) -> None:
    env = servers["generated"].env
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cases = {
        "ok": env,
        "unreachable": {**env, "KILN_DATABASE_URL": "postgres://kiln@127.0.0.1:1/kiln"},
        "unsupported": {**env, "KILN_DATABASE_URL": "mysql://kiln@localhost/kiln"},
        "unwritable": {**env, "KILN_DATA_DIR": str(blocker / "data")},
        "fresh": {**env, "KILN_DATA_DIR": str(tmp_path / "fresh")},
        "bad allow-list": {**env, "KILN_METRICS_ALLOWED_IPS": "127.0.0.1,localhost"},
    }
    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        runs = dict(
            zip(cases, pool.map(lambda e: _kiln("check", env=e), cases.values()), strict=True)
        )
    ok = runs["ok"]
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "database: ok (sqlite)" in ok.stdout
    assert "storage: ok" in ok.stdout
    expected = {
        "unreachable": "database: cannot connect",
        "unsupported": "configuration: FAILED",
        "unwritable": "is not writable",
        "fresh": "migrations not applied",
        "bad allow-list": "KILN_METRICS_ALLOWED_IPS has 'localhost'",
    }
    for name, message in expected.items():
        assert runs[name].returncode == 1, name
        assert message in runs[name].stderr, (name, runs[name].stderr)
