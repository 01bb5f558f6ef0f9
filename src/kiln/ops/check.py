"""`kiln check`: configuration, database and storage sanity; non-zero exit on any problem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def run_checks(*, repair: bool = False) -> int:
    problems: list[str] = []
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    try:
        import django

        django.setup()
    except Exception as exc:
        print(f"configuration: FAILED ({exc})")
        return 1
    print("configuration: ok")
    from django.conf import settings
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            problems.append(f"database: {len(pending)} migrations not applied (run `kiln migrate`)")
        else:
            print(f"database: ok ({connection.vendor})")
    except Exception as exc:
        problems.append(f"database: cannot connect ({exc})")
    try:
        settings.REPOSITORIES_DIR.mkdir(parents=True, exist_ok=True)
        probe = settings.REPOSITORIES_DIR / ".check"
        probe.write_text("ok")
        probe.unlink()
        print(f"storage: ok ({settings.DATA_DIR})")
    except OSError as exc:
        problems.append(f"storage: {settings.DATA_DIR} is not writable ({exc.strerror})")
    git = shutil.which("git")
    if git is None:
        problems.append("git: not found on PATH")
    else:
        version = subprocess.run(
            [git, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        print(f"git: ok ({version})")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0
