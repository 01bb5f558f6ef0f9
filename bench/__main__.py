"""`make bench`: run every registered benchmark, print a table, write bench/results/latest.json.

python -m bench                 # all
python -m bench api --quick     # one, with short phases
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Every benchmark: name -> module with `run(*, quick: bool) -> dict` (rows, summary, targets).
# Imported when run, so one that cannot import does not stop the others.
BENCHMARKS: dict[str, str] = {
    "api": "bench.api",
    "ratelimit_store": "bench.ratelimit_store",
    "git": "bench.git",
    "ci_idle": "bench.ci_idle",
    "ci": "bench.ci",
    "web": "bench.web",
    "collab": "bench.collab",
}
RESULTS = Path(__file__).resolve().parent / "results"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if i < 2 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def _revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="short phases (a smoke run)")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    if unknown := [n for n in names if n not in BENCHMARKS]:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "revision": _revision(),
        "quick": args.quick,
        "benchmarks": {},
    }
    failed = False
    for name in names:
        print(f"== {name}", flush=True)
        try:
            run: Callable[..., dict[str, Any]] = importlib.import_module(BENCHMARKS[name]).run
            result = run(quick=args.quick)
        except Exception as exc:  # noqa: BLE001  (one broken benchmark must not hide the rest)
            result = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
        report["benchmarks"][name] = result
        if result.get("rows"):
            print(_table(result["rows"]))
        else:
            rest = {k: v for k, v in result.items() if k not in ("targets", "summary")}
            print(json.dumps(rest, indent=2))
        for line in result.get("summary", []):
            print(line)
        for target, met in result.get("targets", {}).items():
            print(f"  [{'met' if met else 'MISSED'}] {target}")
            failed = failed or not met
        print(flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {RESULTS / 'latest.json'}")
    # A missed target is a finding, not a crash: the exit status says it for CI to decide.
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
