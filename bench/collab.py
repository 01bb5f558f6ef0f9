"""Planning and code review under load: issues list, an issue's 200 notes, a big MR's changes.

1. Builds a data directory (SQLite) with root, a user `bench` (Developer) with a token, and a
   private project `bench/collab` holding 10,000 issues (labels, assignees; the first ones
   through the services, the rest bulk-inserted with the same rendered rows), one issue with
   200 notes written through the notes service.
2. Starts `kiln web` (gunicorn, as deployed), pushes a real repository over HTTP (`git push`)
   with a `main` of 100 files and a `topic` branch that changes 50 lines in each (100 files,
   5,000 changed lines), and opens the merge request through the API.
3. Open-loop fixed rates of 20 and 100 requests/s for `GET .../issues?per_page=20`,
   `GET .../issues/1/notes?per_page=100` (of 200), `GET .../merge_requests/1/changes`, and the
   no-work route `/-/noop`; p50/p90/p99 of each.

Targets (issue 4, half of GitLab's GPT thresholds, on 2 cores): issues list p90 <= 250 ms,
MR changes p90 <= 200 ms, at both rates. The load generator shares the two cores.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import load
from bench.api import _free_port, _phase, _status, _wait_ready

REPO = Path(__file__).resolve().parent.parent
TOKEN = "glpat-bench-collab-token-0123456789"
ROOT_TOKEN = "glpat-bench-collab-root-token-00"
RATES = (20, 100)
ISSUES = 10_000
NOTES = 200
FILES = 100
LINES_PER_FILE = 60
CHANGED_PER_FILE = 25  # 25 lines rewritten: 25 removed + 25 added = 50 changed lines a file
TARGETS_MS = {"issues list": 250.0, "MR changes": 200.0}


def seed() -> None:
    """Fill the data directory named by KILN_DATA_DIR (run in a child process)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from kiln.accounts.access_tokens import create_personal_access_token_unchecked
    from kiln.accounts.models import User
    from kiln.accounts.services import create_user_unchecked, seed_root
    from kiln.core.access import AccessLevel, Visibility
    from kiln.core.actor import Actor
    from kiln.issues.models import InternalId, Issue, IssueAssignee
    from kiln.issues.services import create_issue
    from kiln.labels.services import create_label
    from kiln.notes.services import create_note
    from kiln.projects.members import add_member
    from kiln.projects.services import create_project

    call_command("migrate", interactive=False, verbosity=0)
    seed_root(password="bench-root-password", token_value=ROOT_TOKEN)
    root = Actor.for_user(User.objects.get(pk=1))
    user = create_user_unchecked(
        username="bench", name="Bench", email="bench@example.com", password="bench-password-1"
    )
    create_personal_access_token_unchecked(user=user, name="bench", scopes=["api"], value=TOKEN)
    project = create_project(
        actor=root, name="collab", path="collab", visibility=Visibility.PRIVATE
    )
    add_member(actor=root, source=project, user_ref=user.pk, access_level=AccessLevel.DEVELOPER)
    labels = [
        create_label(actor=root, parent=project, title=f"label-{n}", color="#336699")
        for n in range(5)
    ]
    description = "Steps to reproduce:\n\n1. open the app\n2. click **save**\n\n`error 42`"
    template = None
    for n in range(1, 21):
        template = create_issue(
            actor=root,
            project=project,
            title=f"Issue number {n}",
            description=description,
            labels=[labels[n % 5].title],
            assignee_ids=[user.pk] if n % 3 == 0 else None,
        )
    assert template is not None
    batch: list[Issue] = []
    for n in range(21, ISSUES + 1):
        batch.append(
            Issue(
                project=project,
                iid=n,
                author_id=1,
                title=f"Issue number {n}",
                description=template.description,
                description_html=template.description_html,
                cached_markdown_version=template.cached_markdown_version,
            )
        )
    with transaction.atomic():
        Issue.objects.bulk_create(batch, batch_size=1000)
        InternalId.objects.filter(project=project, usage="issues").update(last_value=ISSUES)
        rows = list(Issue.objects.filter(project=project, iid__gt=20).values_list("pk", "iid"))
        through = Issue.labels.through
        through.objects.bulk_create(
            [through(issue_id=pk, label_id=labels[iid % 5].pk) for pk, iid in rows],
            batch_size=1000,
        )
        IssueAssignee.objects.bulk_create(
            [IssueAssignee(issue_id=pk, user_id=user.pk) for pk, iid in rows if iid % 3 == 0],
            batch_size=1000,
        )
    first = Issue.objects.get(project=project, iid=1)
    bench = Actor.for_user(user)
    for n in range(NOTES):
        create_note(
            actor=bench if n % 2 else root,
            noteable=first,
            body=f"Comment {n}: looked at it, **still** failing with `error {n}`.",
        )


def _git(*args: str, cwd: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def _push_repository(port: int, work: Path) -> None:
    """`main` with 100 files; `topic` rewrites 25 of the 60 lines of each."""
    work.mkdir()
    _git("init", "-q", cwd=work)
    for f in range(FILES):
        lines = [f"file {f} line {n}: some code here" for n in range(LINES_PER_FILE)]
        (work / f"src/module_{f:03}.py").parent.mkdir(parents=True, exist_ok=True)
        (work / f"src/module_{f:03}.py").write_text("\n".join(lines) + "\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "Base", cwd=work)
    remote = f"http://root:{ROOT_TOKEN}@127.0.0.1:{port}/root/collab.git"
    _git("push", "-q", remote, "main", cwd=work)
    _git("checkout", "-q", "-b", "topic", cwd=work)
    for f in range(FILES):
        path = work / f"src/module_{f:03}.py"
        lines = path.read_text().splitlines()
        for n in range(0, CHANGED_PER_FILE * 2, 2):
            lines[n] = f"file {f} line {n}: changed in the merge request"
        path.write_text("\n".join(lines) + "\n")
    _git("commit", "-q", "-am", "Change every module", cwd=work)
    _git("push", "-q", remote, "topic", cwd=work)


def _api(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v4{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"PRIVATE-TOKEN": TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def run(*, quick: bool = False) -> dict[str, Any]:
    duration = 3.0 if quick else 10.0
    workers = os.environ.get("KILN_WEB_WORKERS", str(os.cpu_count() or 2))
    with tempfile.TemporaryDirectory(prefix="kiln-bench-collab-") as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PROMETHEUS_"))}
        env.update(
            KILN_DATA_DIR=str(Path(tmp) / "data"),
            KILN_LISTEN=f"127.0.0.1:{port}",
            KILN_SSH_LISTEN="",
            KILN_WEB_WORKERS=workers,
            KILN_SECRET_KEY="bench-secret-key",
            # The merge request's diff is written when it is opened; later work (mergeability)
            # runs inline, so nothing is left running in the background while measuring.
            KILN_TASKS_IMMEDIATE="1",
            PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'src'}",
        )
        (Path(tmp) / "data").mkdir()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from bench.collab import seed; seed()"],
            env=env,
            check=True,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        seeded_in = time.perf_counter() - started
        log = open(Path(tmp) / "web.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "kiln.cli", "web"], env=env, stderr=log, stdout=log
        )
        try:
            _wait_ready(port, server)
            _push_repository(port, Path(tmp) / "work")
            mr = _api(
                port,
                "POST",
                "/projects/root%2Fcollab/merge_requests",
                {"source_branch": "topic", "target_branch": "main", "title": "Big change"},
            )
            return _measure(port, server.pid, duration, seeded_in, workers, int(mr["iid"]))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()


def _measure(
    port: int, pid: int, duration: float, seeded_in: float, workers: str, mr_iid: int
) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    auth = {"PRIVATE-TOKEN": TOKEN}
    base = "/api/v4/projects/root%2Fcollab"
    changes = _api(port, "GET", f"/projects/root%2Fcollab/merge_requests/{mr_iid}/changes")
    files = len(changes["changes"])
    changed_lines = sum(
        sum(1 for line in c["diff"].splitlines() if line[:1] in "+-") for c in changes["changes"]
    )
    routes = {
        "issues list": f"{base}/issues?per_page=20",
        "issue notes (200)": f"{base}/issues/1/notes?per_page=100",
        "MR changes": f"{base}/merge_requests/{mr_iid}/changes",
        "/-/noop (no work)": "/-/noop",
    }
    for path in routes.values():
        assert _status(port, path, auth) == 200, path
    rows: list[dict[str, Any]] = []
    p90: dict[tuple[str, int], float] = {}
    for name, path in routes.items():
        raw = load.encode_get(path, "bench", auth)
        load.closed_loop("127.0.0.1", port, raw, concurrency=2, duration=1.0)  # warm up
        for rate in RATES:
            row = _phase(
                pid,
                functools.partial(
                    load.open_loop, "127.0.0.1", port, raw, rate=rate, duration=duration
                ),
            )
            rows.append({"route": name, "load": f"{rate}/s", **row})
            p90[(name, rate)] = row["p90_ms"]
    verdicts: dict[str, bool] = {}
    summary: list[str] = []
    for name, target in TARGETS_MS.items():
        for rate in RATES:
            met = p90[(name, rate)] <= target
            verdicts[f"{name}: p90 at {rate}/s <= {target:g} ms"] = met
            summary.append(f"{name}: p90 at {rate}/s {p90[(name, rate)]:.1f} ms (<= {target:g})")
    return {
        "rows": rows,
        "summary": summary,
        "targets": verdicts,
        "setup": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "server": f"kiln web (gunicorn gthread, {workers} workers x "
            f"{os.environ.get('KILN_WEB_THREADS', '16')} threads)",
            "database": "SQLite (WAL)",
            "issues": ISSUES,
            "notes_on_issue_1": NOTES,
            "mr_files": files,
            "mr_changed_lines": changed_lines,
            "seconds_per_phase": duration,
            "seeded_in_s": round(seeded_in, 1),
            "client": "bench/load.py on the same machine (raw sockets, keep-alive)",
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    }
