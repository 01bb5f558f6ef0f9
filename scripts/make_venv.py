"""Create the virtualenv, also on a Debian without python3-venv (no ensurepip).

`python3 -m venv` needs Debian's python3-venv package for pip. Without it, the venv is made
without pip and pip is bootstrapped from its wheel on the package index (the one pip is
configured for, else PyPI): a wheel of pip can run itself to install itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import venv
from pathlib import Path


def _index_url() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def _bootstrap_pip(python: Path) -> None:
    index = _index_url()
    base = index.rsplit("/simple", 1)[0] if index.endswith("/simple") else index
    with urllib.request.urlopen(f"{base}/pypi/pip/json", timeout=60) as response:  # noqa: S310
        info = json.load(response)
    wheel = next(u for u in info["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / wheel["filename"]
        urllib.request.urlretrieve(wheel["url"], target)  # noqa: S310
        subprocess.run(  # noqa: S603
            [str(python), f"{target}/pip", "install", "--quiet", str(target)], check=True
        )


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv")
    python = target / "bin" / "python"
    if python.exists():
        return 0
    try:
        venv.create(target, with_pip=True)
    except subprocess.CalledProcessError:
        venv.create(target, with_pip=False, clear=True)
        _bootstrap_pip(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
