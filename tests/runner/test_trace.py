"""The job log on its own: masking across chunk boundaries, the output cap, sections, sending."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.runner.client import Coordinator
from kiln.runner.trace import JobTrace, Masker
from tests.runner.coordinator import FakeCoordinator, job_payload

SECRETS = ["s3cr3t-value", "another-secret-123", "abab", "xxx"]
PREFIXES = ["glpat-", "glrt-"]
TEXT = (
    "hello s3cr3t-value world another-secret-123 x abababab glpat-AbC_d-9 end xxxxxxx "
    "glrt-glpat-zz s3cr3t-valu s3cr3t-value\n"
) * 3


def _masked_whole(text: bytes) -> bytes:
    masker = Masker(SECRETS, PREFIXES)
    return masker.feed(text) + masker.flush()


def test_masker_replaces_values_and_token_suffixes() -> None:
    out = _masked_whole(b"pw=s3cr3t-value token glpat-Abc123_x- next\n")
    assert out == b"pw=[MASKED] token glpat-[MASKED] next\n"


def test_masker_holds_back_a_partial_secret_until_it_is_decided() -> None:
    masker = Masker(["s3cr3t-value"])
    assert masker.feed(b"log: s3cr") == b"log: "  # might be the start of the secret
    assert masker.feed(b"3t-value!") == b"[MASKED]!"
    assert masker.feed(b" s3cr") == b" "
    assert masker.feed(b"ew") == b"s3crew"  # it was not
    assert masker.feed(b" s3c") == b" "
    assert masker.flush() == b"s3c"  # the end of the job decides the rest


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(TEXT)), max_size=40))
def test_masking_does_not_depend_on_where_the_stream_is_cut(cuts: list[int]) -> None:
    data = TEXT.encode()
    expected = _masked_whole(data)
    masker = Masker(SECRETS, PREFIXES)
    out = b""
    start = 0
    for cut in sorted(set(cuts)):
        out += masker.feed(data[start:cut])
        start = cut
    out += masker.feed(data[start:]) + masker.flush()
    assert out == expected
    assert b"s3cr3t-value" not in out
    assert b"another-secret" not in out
    assert b"AbC_d" not in out


def _trace(fake: FakeCoordinator, limit: int = 4 * 1024 * 1024) -> tuple[JobTrace, int]:
    job_id = fake.new_job_id()
    record = fake.add_job(
        job_payload(job_id, repo_url="file:///nowhere", sha="0" * 40, script=["true"])
    )
    record.status = "running"
    fake.queue.clear()
    trace = JobTrace(
        Coordinator(fake.url),
        job_id=job_id,
        job_token=record.token,
        info={},
        masked_values=["top-secret-1"],
        limit=limit,
        update_interval=0.05,
        final_update_timeout=10,
    )
    return trace, job_id


def test_output_cap_truncates_with_gitlabs_message_and_keeps_the_runners_last_words(
    fake: FakeCoordinator,
) -> None:
    trace, job_id = _trace(fake, limit=2048)
    trace.start()
    for _ in range(100):
        trace.write(b"x" * 100 + b"\n")
    assert trace.limit_exceeded.is_set()
    assert trace.should_stop
    trace.error("Job failed: the log is full")
    trace.finish(state="failed", failure_reason="trace_size_exceeded")
    stored = bytes(fake.jobs[job_id].trace)
    assert stored.startswith(b"x" * 100)
    assert b"Job's log exceeded limit of 2048 bytes." in stored
    assert stored.endswith(b"Job failed: the log is full\x1b[0;m\n")
    assert len(stored) < 2048 + 200
    final = fake.jobs[job_id].final
    assert final["output"]["bytesize"] == len(stored)
    assert final["output"]["checksum"] == f"crc32:{zlib.crc32(stored):08x}"


def test_sections_and_ansi_pass_through(fake: FakeCoordinator) -> None:
    trace, job_id = _trace(fake)
    trace.start()
    trace.section_start("Step Script!", "Running it")
    trace.write(b"\x1b[31mred\x1b[0m top-secret-1\n")
    trace.section_end("Step Script!")
    trace.finish(state="success")
    stored = fake.jobs[job_id].text
    assert "section_start:" in stored
    assert ":step_script_\r\x1b[0K\x1b[36;1mRunning it" in stored
    assert "\x1b[31mred\x1b[0m [MASKED]\n" in stored
    assert stored.rstrip().endswith(":step_script_\r\x1b[0K")


def test_a_patch_larger_than_the_limit_goes_in_pieces(fake: FakeCoordinator) -> None:
    trace, job_id = _trace(fake)
    trace.max_patch_size = 1000
    trace.start()
    trace.write(b"y" * 4500)
    trace.finish(state="success")
    record = fake.jobs[job_id]
    assert bytes(record.trace) == b"y" * 4500
    assert all(int(r.split("-")[1]) - int(r.split("-")[0]) < 1000 for r, _ in record.patches)
    assert record.status == "success"


def test_first_bytes_are_sent_without_waiting_for_the_interval(fake: FakeCoordinator) -> None:
    import time

    trace, job_id = _trace(fake)
    trace._interval = 30.0  # a slow server interval: the first bytes must not wait for it
    trace.start()
    trace.write(b"first line\n")
    deadline = time.monotonic() + 2
    while not fake.jobs[job_id].trace and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bytes(fake.jobs[job_id].trace) == b"first line\n"
    trace._interval = 0.05
    trace.finish(state="success")
