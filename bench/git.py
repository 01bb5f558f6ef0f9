"""`bench/git`: Kiln's git transport against git's own, on the same repository, in one run.

The repository (≥ 100k objects, ≥ 100 MB, incompressible blobs) is generated once with
`git fast-import` and cached in bench/.cache. Kiln (`kiln serve`: gunicorn, worker, ssh) gets
it by a real push; the peer serves a byte-identical copy of Kiln's repository afterwards, so
both read the same packs and bitmaps.

Reported as ratios (Kiln / peer) with the targets from the git hosting issue:
- full-clone pack generation, body discarded: ≤ 1.1x http-backend's time;
- ls-remote request rate: ≥ 1.0x http-backend's rate;
- small push latency: ≤ 1.2x http-backend's;
- SSH clone: Kiln's SSH server vs OpenSSH running git-upload-pack (when sshd is installed).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.gitpeer import HttpBackend, OpenSSHD, free_port, wait_port

CACHE = Path(__file__).resolve().parent / ".cache"
TOKEN = "glpat-bench-root-token-000000000"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr}")
    return result.stdout


def generate_repository(path: Path, *, commits: int = 1500, files_per_commit: int = 40) -> Path:
    """A bare repository of ~120k objects and ~120 MB, the same bytes every time (seeded)."""
    marker = path / "kiln-bench-complete"
    if marker.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    git("init", "-q", "--bare", str(path))
    rng = random.Random(20261122)
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet"],
        cwd=path,
        stdin=subprocess.PIPE,
        env={**os.environ, **GIT_ENV},
    )
    assert proc.stdin is not None
    write = proc.stdin.write
    for n in range(commits):
        write(f"commit refs/heads/main\nmark :{n + 1}\n".encode())
        write(f"committer Bench <bench@example.com> {1700000000 + n * 60} +0000\n".encode())
        message = f"Commit {n}\n".encode()
        write(b"data %d\n%s\n" % (len(message), message))
        if n:
            write(f"from :{n}\n".encode())
        for _ in range(files_per_commit):
            directory = rng.randrange(60)
            name = rng.randrange(50)
            content = rng.randbytes(1500).hex().encode()  # 3 KB, incompressible-ish text
            write(f"M 100644 inline dir{directory:02d}/file{name:02d}.txt\n".encode())
            write(b"data %d\n%s\n" % (len(content), content))
        write(b"\n")
    write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    git("repack", "-adq", cwd=path)
    marker.write_text("ok\n")
    return path


def _median_time(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _pkt_lines(data: bytes) -> list[bytes]:
    """The payloads of git pkt-lines (flush packets dropped)."""
    lines, at = [], 0
    while at + 4 <= len(data):
        size = int(data[at : at + 4], 16)
        if size == 0:
            at += 4
            continue
        lines.append(data[at + 4 : at + size])
        at += size
    return lines


def _refs(base: str, auth: tuple[str, str] | None) -> list[str]:
    response = requests.get(
        f"{base}/info/refs", params={"service": "git-upload-pack"}, auth=auth, timeout=60
    )
    response.raise_for_status()
    oids = set()
    for line in _pkt_lines(response.content):
        oid, _, rest = line.partition(b" ")
        if rest.startswith(b"refs/heads/") and len(oid) == 40:
            oids.add(oid.decode())
    if not oids:
        raise RuntimeError(f"no branches advertised by {base}")
    return sorted(oids)


def _upload_pack_body(oids: list[str]) -> bytes:
    lines = []
    for i, oid in enumerate(oids):
        text = f"want {oid}" + (
            " multi_ack_detailed side-band-64k thin-pack ofs-delta" if i == 0 else ""
        )
        text += "\n"
        lines.append(f"{len(text) + 4:04x}{text}".encode())
    return b"".join(lines) + b"00000009done\n"


def full_clone_seconds(base: str, auth: tuple[str, str] | None, runs: int) -> tuple[float, int]:
    body = _upload_pack_body(_refs(base, auth))
    size = 0

    def clone() -> None:
        nonlocal size
        response = requests.post(
            f"{base}/git-upload-pack",
            data=body,
            auth=auth,
            headers={"Content-Type": "application/x-git-upload-pack-request"},
            stream=True,
            timeout=600,
        )
        response.raise_for_status()
        size = sum(len(chunk) for chunk in response.iter_content(1 << 20))
        if size < 1 << 20:
            raise RuntimeError(f"the clone of {base} returned only {size} bytes")

    clone()  # warm the page cache for both sides alike
    return _median_time(clone, runs), size


def ls_remote_rate(base: str, auth: tuple[str, str] | None, seconds: float, clients: int) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * clients

    def worker(i: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            response = session.get(
                f"{base}/info/refs", params={"service": "git-upload-pack"}, auth=auth, timeout=30
            )
            if response.status_code == 200:
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def push_seconds(url: str, work: Path, runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for i in range(runs):
        (work / "bench.txt").write_text(f"{time.time()} {i}\n")
        git("add", "bench.txt", cwd=work)
        git("commit", "-q", "-m", f"push {i}", cwd=work)
        started = time.perf_counter()
        git("push", "-q", url, f"HEAD:refs/heads/bench-{os.getpid()}-{i}", cwd=work, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Kiln:
    """`kiln serve` on a fresh data directory, with root's token seeded."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
        self.port, self.ssh_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "KILN_DATA_DIR": str(self.dir / "data"),
            "KILN_LISTEN": f"127.0.0.1:{self.port}",
            "KILN_SSH_LISTEN": f"127.0.0.1:{self.ssh_port}",
            "KILN_ROOT_PASSWORD": "bench-password-1",
            "KILN_ROOT_TOKEN": TOKEN,
            "KILN_LOG_LEVEL": "WARNING",
        }
        kiln = str(Path(sys.executable).with_name("kiln"))
        self.log = (self.dir / "serve.log").open("wb")
        self.proc = subprocess.Popen([kiln, "serve"], env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/-/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("kiln serve did not start")

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method,
            f"{self.url}/api/v4{path}",
            headers={"PRIVATE-TOKEN": TOKEN},
            timeout=60,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    def repository_dir(self, project: dict[str, Any]) -> Path:
        from kiln.gitstore import hashed_relative_path

        key = self.repository_key(project["id"])
        return self.dir / "data" / "repositories" / hashed_relative_path(key)

    def repository_key(self, project_id: int) -> str:
        os.environ["KILN_DATA_DIR"] = str(self.dir / "data")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
        import django

        django.setup()
        from kiln.projects.models import Project

        return Project.objects.get(pk=project_id).repository_key

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(quick: bool = False) -> dict[str, Any]:
    runs = 3 if quick else 5
    source = generate_repository(CACHE / "big.git")
    objects = int(git("count-objects", "-v", cwd=source).split("in-pack: ")[1].split()[0])
    kiln = Kiln()
    peer: HttpBackend | None = None
    results: dict[str, Any] = {"objects": objects}
    try:
        project = kiln.api("POST", "/projects", json={"name": "big", "visibility": "public"})
        started = time.perf_counter()
        git("push", "-q", f"http://root:{TOKEN}@127.0.0.1:{kiln.port}/root/big.git",
            "refs/heads/*:refs/heads/*", cwd=source)  # fmt: skip
        results["initial_push_s"] = round(time.perf_counter() - started, 2)
        time.sleep(5)  # let the worker's post-push maintenance start before copying
        peer_root = kiln.dir / "peer"
        peer_root.mkdir()
        repo = kiln.repository_dir(project)
        shutil.copytree(repo, peer_root / "big.git", symlinks=True)
        git("config", "http.receivepack", "true", cwd=peer_root / "big.git")
        # Neither side gets hooks or maintenance the other lacks during measurement.
        peer = HttpBackend(peer_root)
        kiln_base = f"{kiln.url}/root/big.git"
        peer_base = f"{peer.url}/big.git"

        k_clone, k_size = full_clone_seconds(kiln_base, None, runs)
        p_clone, p_size = full_clone_seconds(peer_base, None, runs)
        results["pack_bytes"] = {"kiln": k_size, "peer": p_size}
        results["full_clone_s"] = {"kiln": round(k_clone, 3), "peer": round(p_clone, 3)}
        results["full_clone_ratio"] = round(k_clone / p_clone, 3)

        seconds = 3 if quick else 6
        k_rate = ls_remote_rate(kiln_base, None, seconds, 8)
        p_rate = ls_remote_rate(peer_base, None, seconds, 8)
        results["ls_remote_rps"] = {"kiln": round(k_rate, 1), "peer": round(p_rate, 1)}
        results["ls_remote_ratio"] = round(k_rate / p_rate, 3)

        work = kiln.dir / "work"
        git("clone", "-q", "--depth", "1", f"{peer.url}/big.git", str(work))
        pushes = 5 if quick else 15
        k_push = push_seconds(
            f"http://root:{TOKEN}@127.0.0.1:{kiln.port}/root/big.git", work, pushes
        )
        p_push = push_seconds(f"{peer.url}/big.git", work, pushes)
        results["small_push_s"] = {"kiln": round(k_push, 3), "peer": round(p_push, 3)}
        results["small_push_ratio"] = round(k_push / p_push, 3)

        results["ssh_clone"] = _ssh_clone(kiln, peer_root, runs)
    finally:
        if peer is not None:
            peer.stop()
        kiln.stop()
    results["targets"] = {
        "full_clone_ratio <= 1.1": results.get("full_clone_ratio", 99) <= 1.1,
        "ls_remote_ratio >= 1.0": results.get("ls_remote_ratio", 0) >= 1.0,
        "small_push_ratio <= 1.2": results.get("small_push_ratio", 99) <= 1.2,
    }
    return results


def _ssh_clone(kiln: Kiln, peer_root: Path, runs: int) -> dict[str, Any]:
    keydir = kiln.dir / "ssh-client"
    keydir.mkdir()
    key = keydir / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = (keydir / "id.pub").read_text().strip()
    try:
        sshd = OpenSSHD(public)
    except RuntimeError as exc:
        return {"skipped": str(exc)}
    try:
        kiln.api("POST", "/user/keys", json={"title": "bench", "key": public})
        wait_port(kiln.ssh_port)
        ssh = f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no " \
              "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"  # fmt: skip
        env = {"GIT_SSH_COMMAND": ssh}
        user = os.environ.get("USER") or "root"

        def clone(url: str) -> None:
            target = kiln.dir / "ssh-clone"
            shutil.rmtree(target, ignore_errors=True)
            git("clone", "-q", "--bare", url, str(target), env=env)

        k = _median_time(lambda: clone(f"ssh://git@127.0.0.1:{kiln.ssh_port}/root/big.git"), runs)
        p = _median_time(
            lambda: clone(f"ssh://{user}@127.0.0.1:{sshd.port}{peer_root}/big.git"), runs
        )
        return {"kiln_s": round(k, 3), "peer_s": round(p, 3), "ratio": round(k / p, 3)}
    finally:
        sshd.stop()


def main() -> int:
    import json

    results = run(quick="--quick" in sys.argv)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
