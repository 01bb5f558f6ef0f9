"""`python -m kiln.runner ...`: the same as `kiln runner ...`."""

from __future__ import annotations

import sys

from kiln.runner.cli import main

if __name__ == "__main__":
    sys.exit(main())
