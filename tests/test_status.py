"""JobStatus: the lifecycle rule and IBM's status strings."""

from __future__ import annotations

import pytest

from qruntime.status import RAN_TOO_LONG, JobStatus, api_status


def test_terminal_statuses_never_change() -> None:
    for status in JobStatus:
        assert status.is_terminal() == (status not in (JobStatus.QUEUED, JobStatus.RUNNING))
        if status.is_terminal():
            assert not any(status.can_become(other) for other in JobStatus)


@pytest.mark.parametrize(
    ("start", "end", "allowed"),
    [
        (JobStatus.QUEUED, JobStatus.RUNNING, True),
        (JobStatus.QUEUED, JobStatus.CANCELLED, True),
        (JobStatus.QUEUED, JobStatus.COMPLETED, False),
        (JobStatus.RUNNING, JobStatus.COMPLETED, True),
        (JobStatus.RUNNING, JobStatus.QUEUED, False),
    ],
)
def test_transitions(start: JobStatus, end: JobStatus, allowed: bool) -> None:
    assert start.can_become(end) is allowed


def test_ibm_status_strings() -> None:
    assert api_status(JobStatus.QUEUED) == "Queued"
    assert api_status(JobStatus.COMPLETED) == "Completed"
    assert api_status(JobStatus.CANCELLED) == "Cancelled"
    assert api_status(JobStatus.CANCELLED, RAN_TOO_LONG) == "Cancelled - Ran too long"
    # Every client upper-cases the string before mapping it.
    assert api_status(JobStatus.CANCELLED, RAN_TOO_LONG).upper() == "CANCELLED - RAN TOO LONG"
