"""`kiln`: serve, web, worker, migrate, check, token, user.

`kiln serve` is the one-command start: it migrates, seeds the administrator on the first start
only, then runs the web server, the background worker, (unless KILN_SSH_LISTEN is empty) the
SSH server and (unless the application setting `kiln_embedded_runner_enabled` is off) the
embedded CI runner (kiln.ops.embedded_runner, started once the web server answers) as child
processes supervised as one unit: if one dies, all stop; one Ctrl-C (or SIGTERM) stops all
cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    # SQLite cannot create its file in a directory that does not exist yet (settings create
    # it only when they generate the secret key, i.e. not with KILN_SECRET_KEY set).
    Path(os.environ.get("KILN_DATA_DIR", "./data")).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def cmd_migrate(args: argparse.Namespace, *, skip_checks: bool = False) -> int:
    _setup_django()
    from django.core.management import call_command

    call_command(
        "migrate",
        interactive=False,
        verbosity=1 if args.verbose else 0,
        skip_checks=skip_checks,
    )
    return 0


def seed(*, out: Any = sys.stdout) -> None:
    """Seed root and its token on the first start; print what was generated, once."""
    from kiln.accounts import tokens
    from kiln.accounts.services import seed_root

    password = os.environ.get("KILN_ROOT_PASSWORD") or ""
    token = os.environ.get("KILN_ROOT_TOKEN") or ""
    generated_password = not password
    generated_token = not token
    password = password or secrets.token_urlsafe(15)
    token = token or tokens.generate()
    if seed_root(password=password, token_value=token):
        print("Created the administrator 'root' (id 1).", file=out)
        if generated_password:
            print(f"  root password: {password}", file=out)
        if generated_token:
            print(f"  root personal access token (api, sudo): {token}", file=out)
        if generated_password or generated_token:
            print("  These are shown only now; keep them somewhere safe.", file=out)
        out.flush()


def cmd_web(args: argparse.Namespace) -> int:
    from kiln.ops.server import run_web

    return run_web()


def cmd_worker(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    from kiln.core import appsettings
    from kiln.ops import shared

    # Settings changed through the web processes reach the worker's cache at once.
    appsettings.use_change_signal(shared.host_store())

    # Periodic work (pipeline schedules, stuck jobs, expired artifacts) is enqueued by a small
    # scheduler thread and run by the task worker below (kiln.ci.periodic).
    from kiln.ci import periodic

    stop = periodic.start_thread()
    try:
        call_command("db_worker", interval=args.interval, verbosity=0)
    finally:
        stop.set()
    return 0


def _child_setup() -> None:
    """In each child of `kiln serve`, before exec: own process group, die with the parent.

    Its own group keeps a terminal's Ctrl-C (sent to the whole foreground group) away from the
    children, so the supervisor alone decides the order of shutdown. PR_SET_PDEATHSIG makes
    the kernel send SIGTERM to the child if the supervisor dies without cleaning up (kill -9).
    """
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _terminate(children: list[subprocess.Popen[bytes]], deadline: float = 15.0) -> None:
    """SIGTERM every child still running (each stops gracefully), then wait; kill stragglers."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    end = time.monotonic() + deadline
    for child in children:
        try:
            child.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"kiln: child {child.pid} did not stop in time; killing it", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 (our own http URL)
            return int(answer.status) == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    # The system checks load every URL route; the web server does that once anyway.
    cmd_migrate(args, skip_checks=True)
    seed()
    from django.conf import settings

    from kiln.ops import embedded_runner

    runner_argv = embedded_runner.prepare(Path(settings.DATA_DIR), settings.LISTEN)
    health_url = embedded_runner.local_url(settings.LISTEN) + "/-/health"

    stop_requested = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    # Installed before the children start, so a signal in between is not lost.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exe = [sys.executable, "-m", "kiln.cli"]
    roles = {"web": [*exe, "web"], "worker": [*exe, "worker"]}
    if settings.SSH_LISTEN:  # empty KILN_SSH_LISTEN: no SSH server
        roles["ssh"] = [*exe, "ssh"]
    children: list[subprocess.Popen[bytes]] = []
    names: dict[int, str] = {}
    for role, argv in roles.items():
        child = subprocess.Popen(argv, preexec_fn=_child_setup)
        children.append(child)
        names[child.pid] = role
    print(f"Kiln is serving on http://{settings.LISTEN} (Ctrl-C stops it)", flush=True)
    status = 0
    while not stop_requested:
        if runner_argv is not None and _answers(health_url):
            # The runner starts once the web server answers, so its first request succeeds.
            child = subprocess.Popen(runner_argv, preexec_fn=_child_setup)
            children.append(child)
            names[child.pid] = "runner"
            runner_argv = None
        for child in children:
            if child.poll() is not None:
                print(
                    f"kiln: the {names[child.pid]} process exited ({child.returncode}); "
                    "stopping everything",
                    flush=True,
                )
                stop_requested = True
                status = 1
                break
        else:
            time.sleep(0.2)
    _terminate(children)
    print("Kiln stopped.", flush=True)
    return status


def cmd_check(args: argparse.Namespace) -> int:
    from kiln.ops.check import run_checks

    return run_checks(repair=args.repair)


def cmd_token_create(args: argparse.Namespace) -> int:
    _setup_django()
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked
    from kiln.accounts.models import User
    from kiln.core.errors import KilnError

    user = User.objects.filter(username__iexact=args.user).first()
    if user is None:
        print(f"kiln: no user named {args.user!r}", file=sys.stderr)
        return 2
    expires = dt.date.fromisoformat(args.expires) if args.expires else None
    try:
        _, value = create_personal_access_token_unchecked(
            user=user,
            name=args.name,
            scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
            expires_at=expires,
        )
    except KilnError as exc:
        print(f"kiln: {exc.message}", file=sys.stderr)
        return 2
    print(value)
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    _setup_django()
    from kiln.accounts.services import create_user_unchecked
    from kiln.core.errors import KilnError

    password = args.password or os.environ.get("KILN_NEW_USER_PASSWORD")
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        user = create_user_unchecked(
            username=args.username,
            name=args.name or args.username,
            email=args.email,
            password=password,
            is_admin=args.admin,
        )
    except KilnError as exc:
        print(f"kiln: {exc.message}", file=sys.stderr)
        return 2
    print(f"Created user {user.username} (id {user.pk}).")
    if generated:
        print(f"  password: {password}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiln", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="migrate, seed, and run web, worker and SSH servers together")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_serve)
    sub.add_parser("web", help="run the web server only").set_defaults(func=cmd_web)
    p = sub.add_parser("worker", help="run the background worker only")
    p.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("check", help="check configuration, database and storage")
    p.add_argument("--repair", action="store_true", help="reconcile the database with git")
    p.set_defaults(func=cmd_check)
    token = sub.add_parser("token", help="personal access tokens").add_subparsers(
        dest="token_command", required=True
    )
    p = token.add_parser("create", help="create a token and print it")
    p.add_argument("--user", required=True)
    p.add_argument("--scopes", required=True, help="comma-separated, e.g. api,read_repository")
    p.add_argument("--expires", help="YYYY-MM-DD")
    p.add_argument("--name", default="cli")
    p.set_defaults(func=cmd_token_create)
    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("create", help="create a user")
    p.add_argument("--username", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--password", help="else KILN_NEW_USER_PASSWORD, else generated and printed")
    p.add_argument("--admin", action="store_true")
    p.set_defaults(func=cmd_user_create)
    _add_ssh_commands(sub)
    return parser


def _add_ssh_commands(sub: Any) -> None:
    """`kiln ssh`, and the OpenSSH integration: `kiln authorized-keys`, `kiln shell`."""
    from kiln.gitssh import commands

    sub.add_parser("ssh", help="run the SSH server only").set_defaults(
        func=lambda args: commands.run_ssh_server()
    )
    p = sub.add_parser("authorized-keys", help="for OpenSSH's AuthorizedKeysCommand (%%t %%k)")
    p.add_argument("key_type")
    p.add_argument("key")
    p.set_defaults(func=lambda args: commands.print_authorized_keys(args.key_type, args.key))
    p = sub.add_parser("shell", help="OpenSSH forced command: kiln shell key-<id>")
    p.add_argument("key_id")
    p.set_defaults(func=lambda args: commands.run_forced_command(args.key_id))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["runner"]:
        # `kiln runner ...` talks HTTP only and never sets up the server (kiln.runner.cli).
        from kiln.runner.cli import main as runner_main

        return runner_main(argv[1:])
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
