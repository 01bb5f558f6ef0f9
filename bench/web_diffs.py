"""CPU per request of a merge request's Changes tab, in process (no server, no network).

1. Builds a data directory (SQLite) in a temporary directory: root, a public project whose
   `main` holds 100 Python files of 60 lines, and a merge request from `topic`, which rewrites
   25 lines of each (100 files, 5,000 changed lines), all through Kiln's services.
2. Renders `/<project>/-/merge_requests/1/diffs` with Django's test client, signed in as
   root (so with the line-comment controls), in both views: a first request (the diffs not
   cached in the process yet), then `--repeat` more, reporting process CPU time per request.

    PYTHONPATH=src python -m bench.web_diffs            # CPU ms per request
    PYTHONPATH=src python -m bench.web_diffs --profile [tottime]  # and cProfile's top 30

Not in `python -m bench` (it measures one view, not a deployment): a tool for the view's
author, repeatable on a loaded machine because it counts CPU time, not wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FILES = 100
LINES_PER_FILE = 60
CHANGED_PER_FILE = 25  # rewritten lines: 25 removed + 25 added = 50 changed lines a file


def _module(index: int, *, changed: bool) -> bytes:
    lines = [
        f"def function_{index}_{n}(value: int) -> str:  # file {index} line {n}"
        if n % 3 == 0
        else f'    return "<b>{n}</b> & {index}" if value > {n} else str(value)'
        for n in range(LINES_PER_FILE)
    ]
    if changed:
        for n in range(0, CHANGED_PER_FILE * 2, 2):
            lines[n] = f"total_{n} = {index} * {n}  # changed in the merge request"
    return ("\n".join(lines) + "\n").encode()


def build() -> tuple[Any, str]:
    """The project and the Changes tab's path (Django must be set up)."""
    from django.core.management import call_command

    from kiln.accounts.models import User
    from kiln.accounts.services import seed_root
    from kiln.core.access import Visibility
    from kiln.core.actor import Actor
    from kiln.merge_requests.services import create_merge_request
    from kiln.projects.services import create_project
    from kiln.repositories.files import FileAction, create_commit

    call_command("migrate", interactive=False, verbosity=0)
    seed_root(password="bench-root-password", token_value="glpat-bench-web-diffs-token-0")
    root = User.objects.get(username="root")
    actor = Actor.for_user(root)
    project = create_project(actor=actor, name="diffs", visibility=Visibility.PUBLIC)
    paths = [f"src/module_{f:03}.py" for f in range(FILES)]
    create_commit(
        actor=actor,
        project=project,
        branch="main",
        message="Base",
        actions=[FileAction("create", p, _module(i, changed=False)) for i, p in enumerate(paths)],
    )
    create_commit(
        actor=actor,
        project=project,
        branch="topic",
        start_branch="main",
        message="Change every module",
        actions=[FileAction("update", p, _module(i, changed=True)) for i, p in enumerate(paths)],
    )
    mr = create_merge_request(
        actor=actor,
        project=project,
        title="Big change",
        source_branch="topic",
        target_branch="main",
    )
    return root, f"/{project.full_path}/-/merge_requests/{mr.iid}/diffs"


def measure(repeat: int, profile: str) -> None:
    import django

    django.setup()
    from django.test import Client

    root, path = build()
    client = Client()
    client.force_login(root, backend="kiln.accounts.backends.KilnBackend")
    # Warm the process (imports, URL patterns, templates) on the merge request's Commits tab,
    # so that the first request below costs what a first view of these diffs costs.
    assert client.get(path.removesuffix("/diffs") + "/commits").status_code == 200
    # Inline again at the end: by then every file is highlighted and cached (a first view
    # highlights at most diff_html.HIGHLIGHT_BUDGET_LINES, the next ones the rest).
    for view in ("inline", "parallel", "inline"):
        url = f"{path}?view={view}"
        started = time.process_time()
        response = client.get(url)
        first = (time.process_time() - started) * 1000
        assert response.status_code == 200, response.status_code
        size = len(response.content)
        profiler = cProfile.Profile() if profile else None
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        for _ in range(repeat):
            client.get(url)
        if profiler is not None:
            profiler.disable()
        each = (time.process_time() - started) * 1000 / repeat
        print(
            f"{view:8}  first request {first:7.1f} ms CPU   then {each:6.1f} ms CPU per request"
            f" (mean of {repeat})   {size / 1024:.0f} KiB of HTML"
        )
        if profiler is not None:
            pstats.Stats(profiler, stream=sys.stdout).sort_stats(profile).print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cumulative",
        default="",
        help="print cProfile's top functions, by this order (cumulative, tottime...)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiln-bench-web-diffs-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for name in [k for k in os.environ if k.startswith("KILN_")]:
            del os.environ[name]
        os.environ.update(
            KILN_DATA_DIR=str(data),
            KILN_SECRET_KEY="bench-secret-key",
            KILN_TASKS_IMMEDIATE="1",
            KILN_LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="kiln.settings",
        )
        measure(args.repeat, args.profile)


if __name__ == "__main__":
    main()
