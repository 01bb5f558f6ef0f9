"""`kiln runner register|run|verify|unregister`.

    kiln runner register --url URL --token glrt-... [--executor shell] [--config PATH]
    kiln runner run [--concurrent N] [--config PATH]
    kiln runner verify [--config PATH]
    kiln runner unregister [--config PATH]

`register` takes a runner authentication token (`glrt-...`, created with
`POST /api/v4/user/runners` or in the UI) and checks it with `POST /runners/verify`, as
gitlab-runner does; any other token is taken as a legacy registration token for
`POST /runners`. It writes the configuration file (mode 0600).

The top-level `kiln` command delegates here with `kiln.runner.cli.main(argv)`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from kiln.runner import NAME, VERSION
from kiln.runner.client import (
    Coordinator,
    CoordinatorError,
    RegistrationRefused,
    RunnerForbidden,
    runner_info,
)
from kiln.runner.config import (
    EXECUTORS,
    SANDBOX_MODES,
    ConfigError,
    Kubernetes,
    RunnerConfig,
    Sandbox,
    default_config_path,
    load,
    save,
)
from kiln.runner.executors import COMMON_FEATURES

log = logging.getLogger("kiln.runner")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(f"kiln runner: {text}\n")
    sys.stderr.flush()


def cmd_register(args: argparse.Namespace) -> int:
    coordinator = Coordinator(args.url)
    config = RunnerConfig(url=args.url.rstrip("/"), token="", executor=args.executor)
    try:
        if args.token.startswith("glrt-"):
            credentials = coordinator.verify(args.token, system_id=config.system_id)
        else:
            credentials = coordinator.register(
                args.token,
                info=runner_info(executor=args.executor, features=dict(COMMON_FEATURES)),
                description=args.description or args.name or "",
                tag_list=[t.strip() for t in (args.tag_list or "").split(",") if t.strip()],
                run_untagged=args.run_untagged,
                locked=args.locked,
                access_level=args.access_level or "",
                maximum_timeout=args.maximum_timeout or 0,
                paused=args.paused,
            )
    except RunnerForbidden:
        _err(
            "Verifying runner... is removed: the token is invalid (create one in the UI or "
            "with POST /api/v4/user/runners)"
        )
        return 1
    except RegistrationRefused:
        _err("Registering runner... forbidden (check the registration token)")
        return 1
    except CoordinatorError as exc:
        _err(f"registering failed: {exc}")
        return 1
    config.token = credentials.token or args.token
    config.id = credentials.id
    config.token_expires_at = credentials.token_expires_at
    config.name = args.name or ""
    config.concurrent = args.concurrent
    config.builds_dir = args.builds_dir or ""
    config.cache_dir = args.cache_dir or ""
    config.user = args.user or ""
    hide = list(args.hide or [])
    data_dir = os.environ.get("KILN_DATA_DIR")
    if data_dir:
        hide.append(os.path.abspath(data_dir))
    config.sandbox = Sandbox(mode=args.sandbox, hide=hide)
    config.kubernetes = Kubernetes(
        host=args.kubernetes_host or "",
        namespace=args.kubernetes_namespace or "default",
        image=args.kubernetes_image or Kubernetes().image,
    )
    try:
        config.validate()
        path = save(config, args.config)
    except (ConfigError, OSError) as exc:
        _err(str(exc))
        return 1
    _out(f"Runner registered successfully (id {config.id or '?'}). Configuration: {path}")
    _out(f"Start it with: kiln runner run --config {path}")
    return 0


def _load(args: argparse.Namespace) -> RunnerConfig | None:
    try:
        return load(args.config)
    except ConfigError as exc:
        _err(str(exc))
        return None


def cmd_verify(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 1
    try:
        Coordinator(config.url).verify(config.token, system_id=config.system_id)
    except RunnerForbidden:
        _err(f"Verifying runner... is removed ({config.short_token})")
        return 1
    except CoordinatorError as exc:
        _err(f"Verifying runner... error: {exc}")
        return 1
    _out(f"Verifying runner... is valid ({config.short_token})")
    return 0


def cmd_unregister(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 1
    try:
        done = Coordinator(config.url).unregister(config.token)
    except CoordinatorError as exc:
        _err(f"Unregistering runner... {exc}")
        return 1
    if not done:
        _err("Unregistering runner... failed")
        return 1
    _out("Unregistering runner... succeeded")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 1
    if args.concurrent:
        config.concurrent = args.concurrent
    if args.check_interval is not None:
        config.check_interval = args.check_interval
    from kiln.runner.run import Runner

    runner = Runner(config)

    def stop(signum: int, frame: FrameType | None) -> None:
        runner.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return runner.run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiln runner", description="Run CI jobs for a Kiln (or GitLab) server."
    )
    parser.add_argument("--version", action="version", version=f"{NAME} {VERSION}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("KILN_RUNNER_LOG_LEVEL", "info"),
        choices=("debug", "info", "warning", "error"),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help=f"configuration file (default: {default_config_path()})")

    p = sub.add_parser("register", help="register with a server and write the configuration")
    p.add_argument("--url", required=True, help="the server's URL, e.g. https://kiln.example.com")
    p.add_argument("--token", required=True, help="runner token (glrt-...) or registration token")
    p.add_argument("--executor", choices=EXECUTORS, default="shell")
    p.add_argument("--name", help="this runner's name in its log lines")
    p.add_argument("--concurrent", type=int, default=1)
    p.add_argument("--builds-dir")
    p.add_argument("--cache-dir")
    p.add_argument("--user", help="run jobs as this OS user (the runner must be root)")
    p.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto")
    p.add_argument("--hide", action="append", help="a path jobs must not see (repeatable)")
    p.add_argument("--kubernetes-host")
    p.add_argument("--kubernetes-namespace")
    p.add_argument("--kubernetes-image")
    legacy = p.add_argument_group("legacy registration tokens only")
    legacy.add_argument("--description")
    legacy.add_argument("--tag-list")
    legacy.add_argument("--run-untagged", action=argparse.BooleanOptionalAction, default=True)
    legacy.add_argument("--locked", action=argparse.BooleanOptionalAction, default=False)
    legacy.add_argument("--paused", action="store_true")
    legacy.add_argument("--access-level", choices=("not_protected", "ref_protected"))
    legacy.add_argument("--maximum-timeout", type=int)
    with_config(p)
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("run", help="run jobs until stopped (SIGTERM/SIGINT)")
    p.add_argument("--concurrent", type=int, help="jobs at once (overrides the configuration)")
    p.add_argument("--check-interval", type=float, help="seconds between job requests")
    with_config(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("verify", help="check that the server still knows this runner")
    with_config(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("unregister", help="delete this runner on the server")
    with_config(p)
    p.set_defaults(func=cmd_unregister)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `kiln runner <argv...>` (argv without the leading `runner`)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.func(args))
