"""`kiln check`: configuration, storage and database sanity; non-zero exit on any problem.

Each line says what was checked and what was found; problems go to stderr. The checks run in
the order a fresh install meets them: the data directory first (settings write the secret key
there), then the settings, the database, storage below the data directory, and git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kiln.core.config import env_list


def _writable(directory: Path) -> str | None:
    """None when `directory` exists (or can be made) and takes a file; else the reason."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".kiln-check-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _check_database(problems: list[str]) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if connection.vendor == "postgresql":
        # An unreachable host should fail the check quickly, not after the TCP timeout.
        connection.settings_dict.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001  (any failure to reach the database is the finding)
        problems.append(f"database: cannot connect ({type(exc).__name__}: {exc})".strip())
        return
    if pending:
        problems.append(f"database: {len(pending)} migrations not applied (run `kiln migrate`)")
    else:
        print(f"database: ok ({connection.vendor})")


def _check_network_lists(problems: list[str]) -> None:
    import ipaddress

    for name in ("KILN_METRICS_ALLOWED_IPS", "KILN_TRUSTED_PROXIES"):
        for entry in env_list(name, []):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(f"configuration: {name} has {entry!r}, not an address or network")


def _check_repositories(problems: list[str], *, repair: bool) -> None:
    """The database against git, the source of truth; `--repair` makes the database follow."""
    from kiln.repositories.reconcile import check_repositories

    findings = check_repositories(repair=repair)
    for finding in findings:
        state = "repaired" if finding.repaired else "run `kiln check --repair`"
        line = f"repositories: {finding.project}: {finding.problem} ({state})"
        if finding.repaired:
            print(line)
        else:
            problems.append(line)
    if not findings:
        print("repositories: ok")


def _check_embedded_runner(data_dir: Path) -> None:
    """Say plainly how the embedded runner's jobs are isolated (a warning, not a failure)."""
    from kiln.core import appsettings
    from kiln.ops.embedded_runner import isolation

    try:
        enabled = appsettings.current().kiln_embedded_runner_enabled
    except Exception:  # noqa: BLE001  (the database check already reported why)
        return
    if not enabled:
        print("embedded runner: off (application setting kiln_embedded_runner_enabled)")
        return
    found = isolation(data_dir)
    if found.safe:
        print(f"embedded runner: ok ({found.message})")
    else:
        print(f"embedded runner: WARNING: {found.message}")


def run_checks(*, repair: bool = False) -> int:
    problems: list[str] = []
    data_dir = Path(os.environ.get("KILN_DATA_DIR", "./data")).resolve()
    if reason := _writable(data_dir):
        print(f"storage: KILN_DATA_DIR {data_dir} is not writable ({reason})", file=sys.stderr)
        return 1
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    try:
        import django

        django.setup()
    except Exception as exc:  # noqa: BLE001  (any error in the settings is the finding)
        print(f"configuration: FAILED ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    _check_network_lists(problems)
    if not problems:
        print("configuration: ok")
    from django.conf import settings

    _check_database(problems)
    if reason := _writable(settings.REPOSITORIES_DIR):
        problems.append(f"storage: {settings.REPOSITORIES_DIR} is not writable ({reason})")
    else:
        print(f"storage: ok ({settings.DATA_DIR})")
    if not problems:
        _check_repositories(problems, repair=repair)
        _check_embedded_runner(settings.DATA_DIR)
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
