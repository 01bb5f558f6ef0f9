"""Settings for the test suite: production settings on a throwaway data directory.

pytest-django imports settings before any conftest runs, so the test environment is set here:
each test process (each xdist worker too) gets its own KILN_DATA_DIR, so repositories, hooks and
the SQLite test database of concurrent runs never meet.
"""

import os
import tempfile

os.environ.setdefault("KILN_TESTING", "1")
os.environ.setdefault("KILN_SECRET_KEY", "test-secret-key-not-for-production")
if not os.environ.get("KILN_TEST_KEEP_DATA_DIR"):
    os.environ["KILN_DATA_DIR"] = tempfile.mkdtemp(prefix="kiln-test-")

from kiln.settings import *  # noqa: F403

# The suite flushes every table between tests that use live servers; on PostgreSQL each flush
# is a TRUNCATE whose commit would wait for the disk. Durability is not a test's concern.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c synchronous_commit=off")  # noqa: F405
