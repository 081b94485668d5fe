"""An open-plan instance runs simulators only and uploads no programs: a device emulator is
refused when a job is submitted, and is not even listed among the instance's backends."""

from __future__ import annotations

from typing import Any

from qruntime.status import JobStatus
from tests.conftest import SIMULATOR_NAMES
from tests.security.conftest import (
    DEVICE_EMULATOR,
    OPEN_INSTANCE,
    SIMULATOR,
    Account,
    Tenants,
    error_message,
)

SOURCE = "def main(backend, user_messenger, **kwargs):\n    return 'uploaded'\n"


def devices_path(instance: str) -> str:
    hub, group, project = instance.split("/")
    return f"/api/Network/{hub}/Groups/{group}/Projects/{project}/devices"


def backend_names(tenants: Tenants, account: Account, instance: str) -> list[str]:
    response = tenants.client.get(f"{devices_path(instance)}/v/1", headers=account.headers)
    assert response.status_code == 200, response.text
    configurations: list[dict[str, Any]] = response.json()
    return [configuration["backend_name"] for configuration in configurations]


def test_a_device_emulator_is_refused_at_submission(tenants: Tenants) -> None:
    carol = tenants.carol
    before = tenants.stored_jobs()
    refused = tenants.submit(carol, "hello-world", backend=DEVICE_EMULATOR)
    assert "open plan" in error_message(refused, 403)
    assert tenants.stored_jobs() == before
    job_id = tenants.run(carol, "hello-world", backend=SIMULATOR, params={"iterations": 1})
    tenants.wait_for_status(carol, job_id, JobStatus.COMPLETED)


def test_the_plan_is_the_instances_not_the_users(tenants: Tenants) -> None:
    """Alice is premium elsewhere; her jobs in ibm-q/open/main are still open-plan jobs."""
    alice = tenants.alice
    refused = tenants.submit(alice, "hello-world", backend=DEVICE_EMULATOR, instance=OPEN_INSTANCE)
    error_message(refused, 403)
    assert DEVICE_EMULATOR not in backend_names(tenants, alice, OPEN_INSTANCE)
    assert DEVICE_EMULATOR in backend_names(tenants, alice, alice.instance)


def test_an_instance_of_someone_else_is_refused(tenants: Tenants) -> None:
    carol = tenants.carol
    premium = tenants.alice.instance
    refused = tenants.submit(carol, "hello-world", backend=DEVICE_EMULATOR, instance=premium)
    assert "not a member" in error_message(refused, 403)
    for instance in (premium, "no/such/instance"):
        listed = tenants.client.get(f"{devices_path(instance)}/v/1", headers=carol.headers)
        error_message(listed, 403)
        assert DEVICE_EMULATOR not in listed.text


def test_device_emulators_are_not_listed(tenants: Tenants) -> None:
    carol = tenants.carol
    assert backend_names(tenants, carol, OPEN_INSTANCE) == SIMULATOR_NAMES
    for part in ("queue/status", "properties", "defaults"):
        path = f"{devices_path(OPEN_INSTANCE)}/{DEVICE_EMULATOR}/{part}"
        error_message(tenants.client.get(path, headers=carol.headers), 404)


def test_program_upload_is_refused(tenants: Tenants) -> None:
    carol = tenants.carol
    before = tenants.stored_program_ids()
    refused = tenants.upload(carol, SOURCE)
    assert "premium" in error_message(refused, 403)
    assert tenants.stored_program_ids() == before
    assert tenants.upload(tenants.alice, SOURCE).status_code == 201
    assert len(tenants.stored_program_ids()) == len(before) + 1
