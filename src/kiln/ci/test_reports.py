"""JUnit reports (`artifacts:reports:junit`) read into GitLab's pipeline test report.

A runner uploads a job's JUnit files as one `gzip` artifact: one gzip member per file. The
report is built when asked (as GitLab does), from the latest attempt of each job: one test
suite per job name, summing every `<testcase>` of its files.

Hostile reports: decompression stops at `MAX_XML_BYTES` per pipeline, documents with a DTD
(entity tricks) are skipped, and at most `MAX_CASES` test cases are kept per suite.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from kiln.ci import storage
from kiln.ci.models import ArtifactType, Job, JobArtifact, JobKind, Pipeline

MAX_XML_BYTES = 30 * 1024 * 1024
MAX_CASES = 5000
MAX_TEXT = 64 * 1024


@dataclass
class TestCase:
    status: str
    name: str
    classname: str
    file: str | None
    execution_time: float
    system_output: str | None = None
    stack_trace: str | None = None


@dataclass
class TestSuite:
    name: str
    build_ids: list[int] = field(default_factory=list)
    cases: list[TestCase] = field(default_factory=list)
    total_time: float = 0.0
    counts: dict[str, int] = field(
        default_factory=lambda: {"success": 0, "failed": 0, "skipped": 0, "error": 0}
    )
    suite_error: str | None = None

    @property
    def total_count(self) -> int:
        return sum(self.counts.values())


def _members(path: str, budget: list[int]) -> Iterator[bytes]:
    """Each gzip member of the file, decompressed, within the remaining byte budget."""
    with storage.artifact_file(path).open("rb") as handle:
        data = handle.read(MAX_XML_BYTES)
    while data:
        inflater = zlib.decompressobj(wbits=31)
        out = inflater.decompress(data, budget[0] + 1)
        if len(out) > budget[0] or inflater.unconsumed_tail:
            raise ValueError("the JUnit report is too large")
        budget[0] -= len(out)
        yield out
        if not inflater.eof:
            return  # truncated
        data = inflater.unused_data


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:MAX_TEXT] if value else None


def _seconds(value: str | None) -> float:
    try:
        number = float(value or 0)
    except ValueError:
        return 0.0
    return number if number == number and number >= 0 else 0.0  # NaN, negatives


def _case(element: ET.Element) -> TestCase:
    status, output, trace = "success", None, None
    for child in element:
        tag = child.tag
        if tag == "failure":
            status = "failed"
            output = _text(child.get("message")) or _text(child.text)
            trace = _text(child.text)
        elif tag == "error":
            status = "error"
            output = _text(child.get("message")) or _text(child.text)
            trace = _text(child.text)
        elif tag == "skipped":
            status = "skipped"
            output = _text(child.get("message")) or _text(child.text)
        elif tag == "system-out" and output is None:
            output = _text(child.text)
    return TestCase(
        status=status,
        name=(element.get("name") or "")[:1024],
        classname=(element.get("classname") or "")[:1024],
        file=element.get("file"),
        execution_time=_seconds(element.get("time")),
        system_output=output,
        stack_trace=trace,
    )


def _parse_into(suite: TestSuite, xml: bytes) -> None:
    head = xml[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise ValueError("JUnit XML with a DTD is not accepted")
    root = ET.fromstring(xml)  # noqa: S314 (no DTD: checked above)
    for element in root.iter("testcase"):
        case = _case(element)
        suite.counts[case.status] += 1
        suite.total_time += case.execution_time
        if len(suite.cases) < MAX_CASES:
            suite.cases.append(case)


def pipeline_suites(pipeline: Pipeline) -> list[TestSuite]:
    jobs = {
        job.pk: job
        for job in Job.objects.filter(pipeline=pipeline, retried=False, kind=JobKind.BUILD)
    }
    artifacts = JobArtifact.objects.filter(
        job_id__in=list(jobs), file_type=ArtifactType.JUNIT
    ).order_by("job_id")
    suites: dict[str, TestSuite] = {}
    budget = [MAX_XML_BYTES]
    for artifact in artifacts:
        job = jobs[artifact.job_id]
        suite = suites.setdefault(job.name, TestSuite(name=job.name))
        suite.build_ids.append(job.pk)
        try:
            for xml in _members(artifact.storage_path, budget):
                _parse_into(suite, xml)
        except (OSError, ValueError, zlib.error, ET.ParseError) as exc:
            suite.suite_error = f"JUnit XML parsing failed: {exc}"[:255]
    return list(suites.values())


def _suite_counts(suite: TestSuite) -> dict[str, Any]:
    return {
        "name": suite.name,
        "total_time": round(suite.total_time, 3),
        "total_count": suite.total_count,
        "success_count": suite.counts["success"],
        "failed_count": suite.counts["failed"],
        "skipped_count": suite.counts["skipped"],
        "error_count": suite.counts["error"],
    }


def test_report(pipeline: Pipeline) -> dict[str, Any]:
    """GET /projects/:id/pipelines/:pipeline_id/test_report (GitLab's TestReportEntity)."""
    suites = pipeline_suites(pipeline)
    report: dict[str, Any] = {
        "total_time": round(sum(s.total_time for s in suites), 3),
        "total_count": sum(s.total_count for s in suites),
        "success_count": sum(s.counts["success"] for s in suites),
        "failed_count": sum(s.counts["failed"] for s in suites),
        "skipped_count": sum(s.counts["skipped"] for s in suites),
        "error_count": sum(s.counts["error"] for s in suites),
        "test_suites": [],
    }
    for suite in suites:
        entry = _suite_counts(suite)
        entry["suite_error"] = suite.suite_error
        entry["test_cases"] = [
            {
                "status": case.status,
                "name": case.name,
                "classname": case.classname,
                "file": case.file,
                "execution_time": case.execution_time,
                "system_output": case.system_output,
                "stack_trace": case.stack_trace,
                "recent_failures": None,
            }
            for case in suite.cases
        ]
        report["test_suites"].append(entry)
    return report


def test_report_summary(pipeline: Pipeline) -> dict[str, Any]:
    """GET .../test_report_summary (GitLab's TestReportSummaryEntity)."""
    suites = pipeline_suites(pipeline)
    errors = [s.suite_error for s in suites if s.suite_error]
    return {
        "total": {
            "time": round(sum(s.total_time for s in suites), 3),
            "count": sum(s.total_count for s in suites),
            "success": sum(s.counts["success"] for s in suites),
            "failed": sum(s.counts["failed"] for s in suites),
            "skipped": sum(s.counts["skipped"] for s in suites),
            "error": sum(s.counts["error"] for s in suites),
            "suite_error": errors[0] if errors else None,
        },
        "test_suites": [
            {**_suite_counts(s), "build_ids": s.build_ids, "suite_error": s.suite_error}
            for s in suites
        ],
    }
