"""IBM's /api and /runtime routes over the real app, store, catalogue and job events.

The only stand-in is the scheduler: :class:`ThreadJobQueue` runs each job with
``run_program`` in a thread and writes its interim results and outcome through the real store
and events, as the scheduler does. Tests that need a job paused hold it at a gate.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.concurrency import run_in_threadpool
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from qruntime.backends import BackendCatalogue
from qruntime.errors import ProgramFailedError
from qruntime.execution.events import JobEvents
from qruntime.local import run_program
from qruntime.programs import builtin_programs
from qruntime.serialization import decode_inputs, encode
from qruntime.server.app import create_app
from qruntime.server.context import ServiceContext
from qruntime.server.routes import routers
from qruntime.server.routes.stream import StreamEnd, job_messages
from qruntime.service import register_builtin_programs
from qruntime.settings import Settings
from qruntime.status import FINAL_ONLY_QUERY, JOB_STATUS_HEADER, JobStatus
from qruntime.store import InvalidTransition, Job, Plan, Store
from tests.conftest import SIMULATOR_NAMES

# The database fixtures (conftest): every test here runs on SQLite and on PostgreSQL.

WAIT_S = 120.0
"""The longest a test waits for a job thread or the server; reached only when something hangs."""

HELLO_SOURCE = """
def main(backend, user_messenger, **kwargs):
    user_messenger.publish({"hello": kwargs.get("who", "world")})
    return "hi"
"""

FAILING_SOURCE = """
def main(backend, user_messenger, **kwargs):
    raise ValueError("the program broke on purpose")
"""


# The scheduler's stand-in -------------------------------------------------------------------


@dataclass
class Gates:
    """A job's pauses: the runner waits on ``start`` and ``finish``, and sets ``published``
    (every interim result stored) and ``done`` (final status stored, subscribers told)."""

    start: threading.Event = field(default_factory=threading.Event)
    finish: threading.Event = field(default_factory=threading.Event)
    published: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class ThreadJobQueue:
    """Runs each queued job in a thread with ``run_program``, through the real store and
    events. With ``hold``, a job waits for ``release`` before it starts and before it ends."""

    def __init__(
        self, store: Store, events: JobEvents, catalogue: BackendCatalogue, workdir: Path
    ) -> None:
        self.store = store
        self.events = events
        self.catalogue = catalogue
        self.workdir = workdir
        self.hold = False
        self.gates: dict[str, Gates] = {}
        self.closed_sessions: list[str] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()

    def close_session(self, session_id: str) -> None:
        self.closed_sessions.append(session_id)

    def job_queued(self, job: Job) -> None:
        job_id = job.id
        gates = self.gates.setdefault(job_id, Gates())
        if not self.hold:
            gates.start.set()
            gates.finish.set()
        loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._run, args=(job_id, gates, loop), daemon=True)
        self._threads.append(thread)
        thread.start()

    async def cancel(self, job_id: str) -> bool:
        try:
            await run_in_threadpool(self.store.transition, job_id, JobStatus.CANCELLED)
        except InvalidTransition:
            return False
        self.events.job_ended(job_id)
        return True

    def release(self, job_id: str, *, start: bool = True, finish: bool = True) -> None:
        if start:
            self.gates[job_id].start.set()
        if finish:
            self.gates[job_id].finish.set()

    def close(self) -> None:
        """Let held jobs go without running, and wait for every job thread to end."""
        self._closed.set()
        for gates in self.gates.values():
            gates.start.set()
            gates.finish.set()
        for thread in self._threads:
            thread.join(WAIT_S)

    def _run(self, job_id: str, gates: Gates, loop: asyncio.AbstractEventLoop) -> None:
        try:
            gates.start.wait(WAIT_S)
            if self._closed.is_set():
                return
            try:
                self.store.transition(job_id, JobStatus.RUNNING, expected_from=JobStatus.QUEUED)
            except InvalidTransition:
                return  # cancelled while it waited
            self._outcome(job_id, gates, loop)
        finally:
            gates.published.set()
            gates.done.set()

    def _outcome(self, job_id: str, gates: Gates, loop: asyncio.AbstractEventLoop) -> None:
        job = self.store.get_job(job_id)
        self.store.append_log(job_id, f"running {job.program_id} on {job.backend}\n")

        def publish(_local_id: str, value: Any) -> None:
            payload = encode(value)
            seq = self.store.add_interim_result(job_id, payload)
            notify(loop, self.events.interim_result, job_id, seq, payload)

        try:
            result = run_program(
                self._program(job.program_id),
                decode_inputs(job.params),
                job.backend,
                publish,
                catalogue=self.catalogue,
            )
        except ProgramFailedError as exc:
            gates.published.set()
            gates.finish.wait(WAIT_S)
            self._end(job_id, loop, JobStatus.FAILED, error=f"{exc}\n{exc.traceback}")
        else:
            gates.published.set()
            gates.finish.wait(WAIT_S)
            self._end(job_id, loop, JobStatus.COMPLETED, result=encode(result))

    def _end(
        self, job_id: str, loop: asyncio.AbstractEventLoop, status: JobStatus, **outcome: str
    ) -> None:
        try:
            self.store.transition(job_id, status, expected_from=JobStatus.RUNNING, **outcome)
        except InvalidTransition:
            return  # cancelled while it ran
        notify(loop, self.events.job_ended, job_id)

    def _program(self, program_id: str) -> str | Path:
        if program_id in builtin_programs():
            return program_id
        path = self.workdir / f"{program_id.replace('-', '_')}.py"
        path.write_text(self.store.get_program(program_id).source, encoding="utf-8")
        return path


def notify(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """Run an events method on the server's loop, unless the test (and its loop) has ended."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(callback, *args)


# Fixtures -----------------------------------------------------------------------------------


@dataclass
class Service:
    """One service: its parts, an HTTP client for it, and helpers to make users."""

    store: Store
    queue: ThreadJobQueue
    events: JobEvents
    settings: Settings
    client: httpx.AsyncClient

    def user(self, name: str, *instances: tuple[str, str, str, Plan], admin: bool = False) -> str:
        """A new user, a member of the instances given (default: ibm-q/open/main only)."""
        user, api_token = self.store.create_user(name, is_admin=admin)
        for hub, group, project, plan in instances or (("ibm-q", "open", "main", Plan.OPEN),):
            instance = self.store.ensure_instance(hub, group, project, plan=plan)
            self.store.add_membership(user.id, instance.id)
        return api_token

    async def login(self, api_token: str) -> dict[str, str]:
        response = await self.client.post("/api/users/loginWithToken", json={"apiToken": api_token})
        assert response.status_code == 200, response.text
        return {"X-Access-Token": response.json()["id"]}

    async def login_user(self, name: str, *instances: tuple[str, str, str, Plan]) -> dict[str, str]:
        return await self.login(self.user(name, *instances))

    async def wait_done(self, job_id: str) -> None:
        assert await asyncio.to_thread(self.queue.gates[job_id].done.wait, WAIT_S)


PREMIUM = ("lab", "physics", "qc", Plan.PREMIUM)
OPEN = ("ibm-q", "open", "main", Plan.OPEN)


def open_store(database_url: str) -> Store:
    store = Store.open(database_url)
    register_builtin_programs(store)
    return store


@asynccontextmanager
async def serving(context: ServiceContext, base_url: str = "http://test") -> AsyncIterator[Service]:
    """The API over ``context``, with an HTTP client that calls it in this process."""
    assert isinstance(context.jobs, ThreadJobQueue)
    transport = httpx.ASGITransport(app=create_app(routers=routers(context)))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield Service(context.store, context.jobs, context.events, context.settings, client)


@pytest.fixture
def context(
    tmp_path: Path, database_url: str, catalogue: BackendCatalogue
) -> Iterator[ServiceContext]:
    """The service's parts over a SQLite file or a PostgreSQL schema (``database_url``)."""
    store = open_store(database_url)
    events = JobEvents()
    queue = ThreadJobQueue(store, events, catalogue, tmp_path)
    settings = Settings(data_dir=tmp_path / "data")
    yield ServiceContext(settings, store, catalogue, queue, events)
    queue.close()
    store.close()


@pytest.fixture
async def service(context: ServiceContext) -> AsyncIterator[Service]:
    async with serving(context) as service:
        yield service


def b64(source: str) -> str:
    return base64.b64encode(source.encode("utf-8")).decode("ascii")


def upload_body(name: str, source: str = HELLO_SOURCE, **extra: Any) -> dict[str, Any]:
    return {"name": name, "data": b64(source), "cost": 600, "description": "d", **extra}


async def submit(
    service: Service, headers: dict[str, str], program_id: str = "hello-world", **body: Any
) -> httpx.Response:
    """POST /runtime/jobs as IBM's clients send it: JSON text without a Content-Type."""
    payload = {"program_id": program_id, "backend": "ibmq_qasm_simulator", "params": {}, **body}
    return await service.client.post(
        "/runtime/jobs", content=json.dumps(payload).encode(), headers=headers
    )


def error_of(response: httpx.Response, status: int) -> str:
    """The message of an IBM-shaped error with the expected status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == status
    message: str = body["error"]["message"]
    return message


# /api ---------------------------------------------------------------------------------------


async def test_version_needs_no_login(service: Service) -> None:
    response = await service.client.get("/api/version")
    assert response.status_code == 200
    assert response.json()["api-auth"] == "0.1"
    assert response.json()["new_api"] is True


async def test_login_with_token_gives_an_access_token(service: Service) -> None:
    api_token = service.user("ada")
    response = await service.client.post("/api/users/loginWithToken", json={"apiToken": api_token})
    assert response.status_code == 200
    body = response.json()
    assert len(body["id"]) >= 32
    assert body["ttl"] == service.settings.access_token_ttl
    assert body["created"].endswith("Z")
    assert body["userId"]


@pytest.mark.parametrize("body", [{"apiToken": "nope"}, {"apiToken": "x" * 128}])
async def test_login_with_a_bad_token_is_401(service: Service, body: dict[str, str]) -> None:
    response = await service.client.post("/api/users/loginWithToken", json=body)
    assert "API token" in error_of(response, 401)


async def test_login_without_a_token_is_400(service: Service) -> None:
    response = await service.client.post("/api/users/loginWithToken", json={})
    assert "apiToken" in error_of(response, 400)


@pytest.mark.parametrize(
    "path", ["/api/users/me", "/api/Network", "/runtime/programs", "/runtime/jobs"]
)
@pytest.mark.parametrize("headers", [{}, {"X-Access-Token": "not-a-token"}])
async def test_calls_without_a_live_access_token_are_401(
    service: Service, path: str, headers: dict[str, str]
) -> None:
    response = await service.client.get(path, headers=headers)
    assert "access token" in error_of(response, 401)


async def test_a_bearer_token_works_too(service: Service) -> None:
    headers = await service.login_user("ada")
    bearer = {"Authorization": f"Bearer {headers['X-Access-Token']}"}
    assert (await service.client.get("/api/users/me", headers=bearer)).status_code == 200


async def test_users_me_points_at_this_server_over_https(service: Service) -> None:
    headers = await service.login_user("ada")
    response = await service.client.get("/api/users/me", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "ada"
    assert body["urls"] == {
        "http": "https://test/api",
        "ws": "wss://test/ws",
        "services": {"runtime": "https://test/runtime"},
    }


async def test_users_me_without_tls_keeps_the_request_scheme(context: ServiceContext) -> None:
    plain = ServiceContext(
        Settings(data_dir=context.settings.data_dir, tls=False),
        context.store,
        context.catalogue,
        context.jobs,
        context.events,
    )
    async with serving(plain, "http://host:8080") as service:
        headers = await service.login_user("ada")
        response = await service.client.get("/api/users/me", headers=headers)
    assert response.json()["urls"]["services"]["runtime"] == "http://host:8080/runtime"


async def test_network_lists_the_users_instances_with_open_main_default(
    service: Service,
) -> None:
    headers = await service.login_user("ada", OPEN, PREMIUM, ("lab", "physics", "qml", Plan.OPEN))
    response = await service.client.get("/api/Network", headers=headers)
    assert response.status_code == 200
    hubs = {hub["name"]: hub for hub in response.json()}
    assert hubs["ibm-q"]["groups"]["open"]["projects"]["main"] == {
        "name": "main",
        "isDefault": True,
    }
    projects = hubs["lab"]["groups"]["physics"]["projects"]
    assert set(projects) == {"qc", "qml"}
    assert not any(project["isDefault"] for project in projects.values())


async def test_devices_follow_the_plan(service: Service, catalogue: BackendCatalogue) -> None:
    headers = await service.login_user("ada", OPEN, PREMIUM)
    open_list = await service.client.get(
        "/api/Network/ibm-q/Groups/open/Projects/main/devices/v/1", headers=headers
    )
    premium_list = await service.client.get(
        "/api/Network/lab/Groups/physics/Projects/qc/devices/v/1", headers=headers
    )
    assert [c["backend_name"] for c in open_list.json()] == SIMULATOR_NAMES
    names = [config["backend_name"] for config in premium_list.json()]
    assert names == catalogue.names()
    for config in premium_list.json():
        assert config["online_date"]
        assert config["max_experiments"]


async def test_devices_of_an_instance_one_is_not_in_are_refused(service: Service) -> None:
    headers = await service.login_user("ada")
    response = await service.client.get(
        "/api/Network/lab/Groups/physics/Projects/qc/devices/v/1", headers=headers
    )
    assert "ibm-q/open/main" in error_of(response, 403)


async def test_backend_queue_status_counts_pending_jobs(service: Service) -> None:
    headers = await service.login_user("ada", PREMIUM)
    service.queue.hold = True
    for _ in range(2):
        assert (await submit(service, headers, backend="ibmq_bogota")).status_code == 200
    base = "/api/Network/lab/Groups/physics/Projects/qc/devices"
    status = await service.client.get(f"{base}/ibmq_bogota/queue/status", headers=headers)
    assert status.status_code == 200
    assert status.json()["lengthQueue"] == 2
    assert status.json()["state"] is True
    properties = await service.client.get(f"{base}/ibmq_bogota/properties", headers=headers)
    assert properties.json()["backend_name"] == "ibmq_bogota"
    simulator = await service.client.get(f"{base}/ibmq_qasm_simulator/properties", headers=headers)
    assert simulator.json() == {}
    defaults = await service.client.get(f"{base}/ibmq_bogota/defaults", headers=headers)
    assert defaults.json() == {}


async def test_an_open_instance_has_no_emulator_to_show(service: Service) -> None:
    headers = await service.login_user("ada")
    response = await service.client.get(
        "/api/Network/ibm-q/Groups/open/Projects/main/devices/ibmq_bogota/queue/status",
        headers=headers,
    )
    assert error_of(response, 404)


async def test_logout_revokes_the_access_token(service: Service) -> None:
    headers = await service.login_user("ada")
    assert (await service.client.post("/api/logout", headers=headers)).status_code == 204
    error_of(await service.client.get("/api/users/me", headers=headers), 401)


# /runtime/programs --------------------------------------------------------------------------


async def test_program_list_pages_with_an_exact_count(service: Service) -> None:
    headers = await service.login_user("ada", PREMIUM)
    for i in range(4):
        response = await service.client.post(
            "/runtime/programs", content=json.dumps(upload_body(f"p{i}")), headers=headers
        )
        assert response.status_code == 201, response.text
    total = len(builtin_programs()) + 4
    seen: list[str] = []
    offset = 0
    while True:
        page = await service.client.get(
            "/runtime/programs", params={"limit": 2, "offset": offset}, headers=headers
        )
        body = page.json()
        assert body["count"] == total
        seen += [program["id"] for program in body["programs"]]
        offset += 2
        if offset >= total:
            break
    assert len(set(seen)) == total
    assert set(builtin_programs()) <= set(seen)


async def test_a_builtin_program_shows_its_source_and_spec(service: Service) -> None:
    headers = await service.login_user("ada")
    response = await service.client.get("/runtime/programs/hello-world", headers=headers)
    assert response.status_code == 200
    program = response.json()
    assert program["name"] == "hello-world"
    assert "def main(" in program["data"]
    assert program["cost"] == 300
    assert program["is_public"] is True
    assert program["spec"]["backend_requirements"] == {"min_num_qubits": 5}
    assert program["creation_date"].endswith("Z")


async def test_upload_then_read_update_and_delete(service: Service) -> None:
    headers = await service.login_user("ada", PREMIUM)
    response = await service.client.post(
        "/runtime/programs", content=json.dumps(upload_body("my-prog")), headers=headers
    )
    program_id = response.json()["id"]
    assert program_id.startswith("my-prog-")
    assert len(program_id) == len("my-prog-") + 10
    url = f"/runtime/programs/{program_id}"
    program = (await service.client.get(url, headers=headers)).json()
    assert program["data"] == HELLO_SOURCE
    assert program["is_public"] is False
    assert program["cost"] == 600

    new_source = HELLO_SOURCE.replace('"hi"', '"hello"')
    response = await service.client.put(
        f"{url}/data",
        content=b64(new_source),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 204
    response = await service.client.patch(
        url, json={"name": "renamed", "description": "new", "cost": 900}, headers=headers
    )
    assert response.status_code == 200
    program = (await service.client.get(url, headers=headers)).json()
    assert (program["name"], program["description"], program["cost"]) == ("renamed", "new", 900)
    assert program["data"] == new_source

    assert (await service.client.delete(url, headers=headers)).status_code == 204
    error_of(await service.client.get(url, headers=headers), 404)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (upload_body("x", "x = 1\n"), "def main("),
        (upload_body("x", "def main(backend, user_messenger:\n"), "does not compile"),
        (upload_body("x", "def main(backend):\n    pass\n"), "first two arguments"),
        ({"data": b64(HELLO_SOURCE), "cost": 60}, "name"),
        ({**upload_body("x"), "data": "not base64!"}, "base64"),
        ({**upload_body("x"), "cost": -5}, "cost"),
        ({**upload_body("x"), "spec": {"parameters": {"type": 5}}}, "schema"),
    ],
)
async def test_bad_uploads_are_400(service: Service, body: dict[str, Any], words: str) -> None:
    headers = await service.login_user("ada", PREMIUM)
    response = await service.client.post(
        "/runtime/programs", content=json.dumps(body), headers=headers
    )
    assert words in error_of(response, 400)


async def test_the_same_name_twice_is_409(service: Service) -> None:
    headers = await service.login_user("ada", PREMIUM)
    body = json.dumps(upload_body("twice"))
    assert (
        await service.client.post("/runtime/programs", content=body, headers=headers)
    ).status_code == 201
    response = await service.client.post("/runtime/programs", content=body, headers=headers)
    assert "twice" in error_of(response, 409)
    other = await service.login_user("bob", PREMIUM)
    response = await service.client.post("/runtime/programs", content=body, headers=other)
    assert response.status_code == 201


async def test_open_plan_users_cannot_upload(service: Service) -> None:
    headers = await service.login_user("ada")
    response = await service.client.post(
        "/runtime/programs", content=json.dumps(upload_body("mine")), headers=headers
    )
    assert "premium" in error_of(response, 403)


async def test_private_programs_are_invisible_to_others(service: Service) -> None:
    ada = await service.login_user("ada", PREMIUM)
    bob = await service.login_user("bob", PREMIUM)
    response = await service.client.post(
        "/runtime/programs", content=json.dumps(upload_body("secret")), headers=ada
    )
    program_id = response.json()["id"]
    url = f"/runtime/programs/{program_id}"
    error_of(await service.client.get(url, headers=bob), 404)
    listed = (await service.client.get("/runtime/programs", headers=bob)).json()
    assert program_id not in [program["id"] for program in listed["programs"]]
    assert listed["count"] == len(builtin_programs())
    error_of(await service.client.put(f"{url}/public", headers=bob), 404)
    error_of(await service.client.delete(url, headers=bob), 404)
    error_of(await submit(service, bob, program_id), 404)

    assert (await service.client.put(f"{url}/public", headers=ada)).status_code == 204
    seen = (await service.client.get(url, headers=bob)).json()
    assert seen["is_public"] is True
    assert seen["data"] == ""
    assert "another user" in error_of(await service.client.delete(url, headers=bob), 403)
    assert (await service.client.put(f"{url}/private", headers=ada)).status_code == 204
    error_of(await service.client.get(url, headers=bob), 404)


async def test_builtin_programs_cannot_be_changed(service: Service) -> None:
    headers = await service.login_user("root", PREMIUM)
    url = "/runtime/programs/hello-world"
    assert "built in" in error_of(await service.client.delete(url, headers=headers), 403)
    error_of(await service.client.patch(url, json={"name": "x"}, headers=headers), 403)
    error_of(await service.client.put(f"{url}/private", headers=headers), 403)


async def test_patch_refuses_unknown_fields(service: Service) -> None:
    headers = await service.login_user("ada", PREMIUM)
    response = await service.client.post(
        "/runtime/programs", content=json.dumps(upload_body("p")), headers=headers
    )
    url = f"/runtime/programs/{response.json()['id']}"
    response = await service.client.patch(url, json={"owner": "me"}, headers=headers)
    assert "owner" in error_of(response, 400)


# /runtime/jobs ------------------------------------------------------------------------------


async def test_a_job_object_has_every_field_the_clients_read(service: Service) -> None:
    headers = await service.login_user("ada")
    service.queue.hold = True
    params = {"iterations": 2}
    response = await submit(service, headers, params=params, tags=["a"], log_level="info")
    assert response.status_code == 200, response.text
    assert response.json()["backend"] == "ibmq_qasm_simulator"
    job_id = response.json()["id"]
    job = (await service.client.get(f"/runtime/jobs/{job_id}", headers=headers)).json()
    assert job["id"] == job_id
    assert (job["hub"], job["group"], job["project"]) == ("ibm-q", "open", "main")
    assert job["backend"] == "ibmq_qasm_simulator"
    assert job["status"] == "Queued"
    assert job["state"] == {"status": "Queued", "reason": None}
    assert job["params"] == params
    assert job["program"] == {"id": "hello-world"}
    assert job["created"].endswith("Z")
    assert job["tags"] == ["a"]
    assert job["log_level"] == "INFO"


async def test_params_are_stored_as_sent(service: Service) -> None:
    headers = await service.login_user("ada")
    service.queue.hold = True
    circuit_free = {"iterations": 1, "extra": {"__type__": "complex", "__value__": [0.0, 1.0]}}
    for params in (circuit_free, json.dumps(circuit_free), [json.dumps(circuit_free)]):
        response = await submit(service, headers, params=params)
        job_id = response.json()["id"]
        assert json.loads(service.store.get_job(job_id).params) == circuit_free


async def test_the_2021_body_shape_is_accepted(service: Service) -> None:
    headers = await service.login_user("ada")
    service.queue.hold = True
    body = {
        "programId": "hello-world",
        "hub": "ibm-q",
        "group": "open",
        "project": "main",
        "backend": "ibmq_qasm_simulator",
        "params": [json.dumps({"iterations": 1})],
    }
    response = await service.client.post("/runtime/jobs", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"program_id": "no-such-program"}, 404, "no-such-program"),
        ({"backend": "ibmq_nowhere"}, 400, "ibmq_qasm_simulator"),
        ({"backend": None}, 400, "simulator_mps"),
        ({"backend": "ibmq_bogota"}, 403, "simulators only"),
        ({"params": {"iterations": -1}}, 400, "iterations"),
        ({"params": {"iterations": "many"}}, 400, "iterations"),
        (
            {"params": {"iterations": {"__type__": "ndarray", "__value__": "???"}}},
            400,
            'inputs["iterations"]',
        ),
        ({"params": {"x": {"__type__": "no-such-type", "__value__": 1}}}, 400, "x"),
        ({"params": [1, 2]}, 400, "params"),
        ({"hub": "lab"}, 400, "project"),
        ({"hub": "lab", "group": "physics", "project": "qc"}, 403, "not a member"),
        ({"log_level": "LOUD"}, 400, "log_level"),
        ({"cost": 0}, 400, "cost"),
    ],
)
async def test_bad_job_submissions(
    service: Service, body: dict[str, Any], status: int, words: str
) -> None:
    headers = await service.login_user("ada")
    service.queue.hold = True
    assert words in error_of(await submit(service, headers, **body), status)
    listed = (await service.client.get("/runtime/jobs", headers=headers)).json()
    assert listed["count"] == 0


async def test_a_premium_instance_runs_emulators_and_is_the_default(service: Service) -> None:
    headers = await service.login_user("ada", OPEN, PREMIUM)
    service.queue.hold = True
    response = await submit(service, headers, backend="ibmq_bogota")
    assert response.status_code == 200, response.text
    job = await service.client.get(f"/runtime/jobs/{response.json()['id']}", headers=headers)
    assert job.json()["project"] == "qc"
    open_job = await submit(service, headers, hub="ibm-q", group="open", project="main")
    assert open_job.status_code == 200


async def test_results_are_204_until_the_job_completes(service: Service) -> None:
    headers = await service.login_user("ada")
    service.queue.hold = True
    job_id = (await submit(service, headers, params={"iterations": 3})).json()["id"]
    url = f"/runtime/jobs/{job_id}"
    response = await service.client.get(f"{url}/results", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers[JOB_STATUS_HEADER] == "QUEUED"
    service.queue.release(job_id)
    await service.wait_done(job_id)
    response = await service.client.get(f"{url}/results", headers=headers)
    assert response.status_code == 200
    assert json.loads(response.text) == "All done!"
    assert response.headers[JOB_STATUS_HEADER] == "COMPLETED"
    job = (await service.client.get(url, headers=headers)).json()
    assert job["status"] == "Completed"
    assert job["state"]["status"] == "Completed"

    interim = (await service.client.get(f"{url}/interim_results", headers=headers)).json()
    assert [json.loads(text)["iteration"] for text in interim] == [2, 1, 0]
    logs = await service.client.get(f"{url}/logs", headers=headers)
    assert logs.text == "running hello-world on ibmq_qasm_simulator\n"
    assert logs.headers["content-type"].startswith("text/plain")
    metrics = (await service.client.get(f"{url}/metrics", headers=headers)).json()
    assert metrics["timestamps"]["finished"].endswith("Z")


async def test_a_failed_job_answers_its_error_as_results(service: Service) -> None:
    headers = await service.login_user("ada", PREMIUM)
    response = await service.client.post(
        "/runtime/programs", content=json.dumps(upload_body("bad", FAILING_SOURCE)), headers=headers
    )
    job_id = (await submit(service, headers, response.json()["id"])).json()["id"]
    await service.wait_done(job_id)
    job = (await service.client.get(f"/runtime/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "Failed"
    results = await service.client.get(f"/runtime/jobs/{job_id}/results", headers=headers)
    assert results.status_code == 200
    assert "the program broke on purpose" in results.text
    assert results.headers[JOB_STATUS_HEADER] == "FAILED"


async def test_cancel_then_cancel_again_is_409(service: Service) -> None:
    headers, job_id = await held_job(service)
    url = f"/runtime/jobs/{job_id}"
    assert (await service.client.post(f"{url}/cancel", headers=headers)).status_code == 204
    job = (await service.client.get(url, headers=headers)).json()
    assert (job["status"], job["state"]["status"]) == ("Cancelled", "Cancelled")
    assert "Cancelled" in error_of(await service.client.post(f"{url}/cancel", headers=headers), 409)
    results = await service.client.get(f"{url}/results", headers=headers)
    assert results.status_code == 200
    assert "cancelled" in results.text


async def test_deleting_a_queued_job_cancels_it_first(service: Service) -> None:
    headers, job_id = await held_job(service)
    assert (
        await service.client.delete(f"/runtime/jobs/{job_id}", headers=headers)
    ).status_code == 204
    error_of(await service.client.get(f"/runtime/jobs/{job_id}", headers=headers), 404)
    assert (
        await service.client.delete("/runtime/sessions/anything/close", headers=headers)
    ).status_code == 204


async def test_another_users_job_does_not_exist_for_them(service: Service) -> None:
    """Not for a user of another instance, nor for one who shares the instance."""
    ada = await service.login_user("ada", PREMIUM)
    bob = await service.login_user("bob")
    service.queue.hold = True
    job_id = (await submit(service, ada)).json()["id"]
    neighbour = await service.login_user("eve", PREMIUM)
    for method, suffix in [
        ("GET", ""),
        ("GET", "/results"),
        ("GET", "/interim_results"),
        ("GET", "/logs"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ]:
        for other in (bob, neighbour):
            response = await service.client.request(
                method, f"/runtime/jobs/{job_id}{suffix}", headers=other
            )
            assert job_id in error_of(response, 404)
    for other in (bob, neighbour):
        assert (await service.client.get("/runtime/jobs", headers=other)).json()["count"] == 0


async def test_job_lists_filter_and_count_exactly(service: Service) -> None:
    headers = await service.login_user("ada", OPEN, PREMIUM)
    service.queue.hold = True
    submitted: list[str] = []
    for i in range(24):
        body: dict[str, Any] = {"tags": ["even"] if i % 2 == 0 else ["odd"]}
        if i % 3 == 0:
            body.update(program_id="sample-program", backend="ibmq_bogota")
        if i >= 20:
            body.update(hub="ibm-q", group="open", project="main", session_id="s1")
            body.update(backend="ibmq_qasm_simulator")
        response = await submit(service, headers, **body)
        assert response.status_code == 200, response.text
        submitted.append(response.json()["id"])
    for job_id in submitted[:5]:
        await service.client.post(f"/runtime/jobs/{job_id}/cancel", headers=headers)

    async def listing(**params: Any) -> tuple[list[str], int]:
        response = await service.client.get("/runtime/jobs", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        return [job["id"] for job in body["jobs"]], body["count"]

    ids, count = await listing(limit=10)
    assert count == 24
    assert ids == submitted[::-1][:10]
    paged: list[str] = []
    while len(paged) < count:
        page, _ = await listing(limit=7, offset=len(paged))
        paged += page
    assert paged == submitted[::-1]
    ascending, _ = await listing(limit=30, sort="ASC")
    assert ascending == submitted

    assert (await listing(pending="true"))[1] == 19
    assert (await listing(pending="false"))[1] == 5
    assert (await listing(program="sample-program"))[1] == 8
    assert (await listing(backend="ibmq_bogota"))[1] == 7
    assert (await listing(tags="even"))[1] == 12
    assert (await listing(session_id="s1"))[1] == 4
    assert (await listing(provider="ibm-q/open/main"))[1] == 4
    assert (await listing(provider="lab/physics/qc", pending="false", limit=2))[1] == 5
    error_of(await service.client.get("/runtime/jobs?provider=a/b/c", headers=headers), 403)
    error_of(await service.client.get("/runtime/jobs?provider=nonsense", headers=headers), 400)

    tenth = service.store.get_job(submitted[10]).created
    after, count_after = await listing(created_after=tenth.isoformat(), limit=50)
    assert count_after == 13
    assert set(after) == set(submitted[11:])
    _, count_before = await listing(
        created_before=tenth.isoformat().replace("+00:00", "Z"), limit=50
    )
    assert count_before == 10
    error_of(await service.client.get("/runtime/jobs?created_after=soon", headers=headers), 400)


# WebSocket streaming ------------------------------------------------------------------------


class ThreadedServer(uvicorn.Server):
    """uvicorn in a thread of its own; ``ready`` is set once it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@dataclass
class LiveService:
    service: Service
    ws_base: str

    def stream(self, job_id: str, headers: dict[str, str], query: str = "") -> Any:
        url = f"{self.ws_base}/runtime/stream/jobs/{job_id}" + (f"?{query}" if query else "")
        return connect(url, additional_headers=headers, proxy=None)


@pytest.fixture
async def live(context: ServiceContext) -> AsyncIterator[LiveService]:
    app = create_app(routers=routers(context))
    queue = context.jobs
    assert isinstance(queue, ThreadJobQueue)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="websockets-sansio")
    server = ThreadedServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        assert await asyncio.to_thread(server.ready.wait, WAIT_S), "the server did not start"
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            service = Service(context.store, queue, context.events, context.settings, client)
            yield LiveService(service, f"ws://127.0.0.1:{port}")
    finally:
        queue.close()
        server.should_exit = True
        await asyncio.to_thread(thread.join, WAIT_S)
        listener.close()


async def received(websocket: Any) -> tuple[list[str], int | None]:
    """Every message until the server closes, and the close code."""
    messages = [message async for message in websocket]
    return messages, websocket.close_code


async def test_the_close_says_whether_the_last_message_was_the_result(live: LiveService) -> None:
    service = live.service
    headers = await service.login_user("ada", PREMIUM)
    completed = (await submit(service, headers, params={"iterations": 1})).json()["id"]
    await service.wait_done(completed)
    uploaded = await service.client.post(
        "/runtime/programs", content=json.dumps(upload_body("bad", FAILING_SOURCE)), headers=headers
    )
    failed = (await submit(service, headers, uploaded.json()["id"])).json()["id"]
    await service.wait_done(failed)
    reasons = {}
    for job_id in (completed, failed):
        async with live.stream(job_id, headers) as websocket:
            messages, code = await received(websocket)
        assert code == 1000
        reasons[job_id] = (websocket.close_reason, messages[-1])
    assert reasons[completed] == ("COMPLETED", json.dumps("All done!"))
    assert reasons[failed][0] == ""


def iterations_of(messages: list[str]) -> list[int]:
    return [json.loads(message)["iteration"] for message in messages]


async def test_a_stream_sends_ack_interim_results_result_then_closes(live: LiveService) -> None:
    service = live.service
    headers = await service.login_user("ada")
    service.queue.hold = True
    job_id = (await submit(service, headers, params={"iterations": 3})).json()["id"]
    async with live.stream(job_id, headers) as websocket:
        # The server subscribes before it acknowledges: nothing published from here is lost.
        assert await websocket.recv() == f"Listening to results for job: {job_id}"
        service.queue.release(job_id)
        messages, code = await received(websocket)
        # Right at the close the final status is already there to read.
        job = (await service.client.get(f"/runtime/jobs/{job_id}", headers=headers)).json()
    assert code == 1000
    assert iterations_of(messages[:-1]) == [0, 1, 2]
    assert json.loads(messages[-1]) == "All done!"
    assert job["state"]["status"] == "Completed"


@pytest.mark.parametrize("published_before", [0, 2])
async def test_a_final_only_stream_sends_ack_then_the_result(
    live: LiveService, published_before: int
) -> None:
    """qruntime's client, waiting without a callback, asks for no interim results."""
    service = live.service
    headers = await service.login_user("ada")
    service.queue.hold = True
    job_id = (await submit(service, headers, params={"iterations": 3})).json()["id"]
    for step in range(published_before):  # stored before the stream starts: not replayed
        service.store.add_interim_result(job_id, json.dumps({"iteration": -1 - step}))
    async with live.stream(job_id, headers, FINAL_ONLY_QUERY) as websocket:
        assert await websocket.recv() == f"Listening to results for job: {job_id}"
        service.queue.release(job_id)
        messages, code = await received(websocket)
    assert code == 1000
    assert websocket.close_reason == "COMPLETED"
    assert messages == [json.dumps("All done!")]
    stored = await service.client.get(f"/runtime/jobs/{job_id}/interim_results", headers=headers)
    assert len(stored.json()) == published_before + 3  # they were published all the same


async def test_a_late_subscriber_gets_the_replay_then_the_live_end(live: LiveService) -> None:
    service = live.service
    headers = await service.login_user("ada")
    service.queue.hold = True
    job_id = (await submit(service, headers, params={"iterations": 2})).json()["id"]
    service.queue.release(job_id, finish=False)
    assert await asyncio.to_thread(service.queue.gates[job_id].published.wait, WAIT_S)
    async with live.stream(job_id, headers) as websocket:
        assert (await websocket.recv()).startswith("Listening to results")
        assert iterations_of([await websocket.recv(), await websocket.recv()]) == [0, 1]
        service.queue.release(job_id)
        messages, code = await received(websocket)
    assert code == 1000
    assert [json.loads(message) for message in messages] == ["All done!"]


async def test_a_finished_job_replays_everything_and_closes(live: LiveService) -> None:
    service = live.service
    headers = await service.login_user("ada")
    job_id = (await submit(service, headers, params={"iterations": 2})).json()["id"]
    await service.wait_done(job_id)
    for _reconnect in range(2):
        async with live.stream(job_id, headers) as websocket:
            messages, code = await received(websocket)
        assert code == 1000
        assert messages[0] == f"Listening to results for job: {job_id}"
        assert iterations_of(messages[1:3]) == [0, 1]
        assert messages[3:] == ['"All done!"']


async def test_a_cancelled_job_closes_its_stream_without_a_result(live: LiveService) -> None:
    service = live.service
    headers, job_id = await held_job(service)
    async with live.stream(job_id, headers) as websocket:
        await websocket.recv()
        cancel = await service.client.post(f"/runtime/jobs/{job_id}/cancel", headers=headers)
        assert cancel.status_code == 204
        messages, code = await received(websocket)
    assert (messages, code) == ([], 1000)


async def held_job(service: Service) -> tuple[dict[str, str], str]:
    """ada's login headers, and a job of hers that the fake queue holds (QUEUED)."""
    headers = await service.login_user("ada")
    service.queue.hold = True
    job_id: str = (await submit(service, headers)).json()["id"]
    return headers, job_id


async def running_job(service: Service) -> str:
    """A job of ada's, held by the fake queue and marked RUNNING in the store."""
    _, job_id = await held_job(service)
    service.store.transition(job_id, JobStatus.RUNNING)
    return job_id


async def test_a_stream_follows_the_store_when_no_event_comes(service: Service) -> None:
    """A job run by another server process: its events never reach this one's subscribers."""
    job_id = await running_job(service)
    store = service.store
    store.add_interim_result(job_id, '{"step": 0}')
    with service.events.subscribe(job_id) as subscription:
        messages = job_messages(store, job_id, subscription, check_seconds=0.01)
        assert await anext(messages) == '{"step": 0}'
        store.add_interim_result(job_id, '{"step": 1}')
        store.transition(job_id, JobStatus.COMPLETED, result='"done"')
        rest = [message async for message in messages]
    assert rest == ['{"step": 1}', '"done"']


async def test_an_end_that_tells_what_was_stored_needs_no_read(service: Service) -> None:
    """The process that ran the job sends its result with the end: a stream that has every
    interim result finishes from the event alone (here the store still says RUNNING)."""
    job_id = await running_job(service)
    store = service.store
    store.add_interim_result(job_id, '{"step": 0}')
    end = StreamEnd()
    with service.events.subscribe(job_id) as subscription:
        messages = job_messages(store, job_id, subscription, check_seconds=WAIT_S, end=end)
        assert await anext(messages) == '{"step": 0}'
        service.events.job_ended(job_id, result='"from the event"', interim_count=1)
        rest = [message async for message in messages]
    assert rest == ['"from the event"']
    assert end.result_sent


async def test_an_end_that_misses_an_interim_result_reads_the_store(service: Service) -> None:
    job_id = await running_job(service)
    store = service.store
    end = StreamEnd()
    with service.events.subscribe(job_id) as subscription:
        messages = job_messages(store, job_id, subscription, check_seconds=WAIT_S, end=end)
        first = asyncio.ensure_future(anext(messages))
        await until(lambda: waiting_for_events(subscription), "the stream to wait for events")
        store.add_interim_result(job_id, '{"step": 0}')  # stored, but its event never came
        store.transition(job_id, JobStatus.COMPLETED, result='"stored"')
        service.events.job_ended(job_id, result='"stored"', interim_count=1)
        rest = [await first] + [message async for message in messages]
    assert rest == ['{"step": 0}', '"stored"']
    assert end.result_sent


def waiting_for_events(subscription: Any) -> bool:
    return bool(subscription._queue._getters)  # someone awaits the next event


async def until(condition: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_client_that_leaves_ends_its_subscription(live: LiveService) -> None:
    service = live.service
    headers, job_id = await held_job(service)
    async with live.stream(job_id, headers) as websocket:
        await websocket.recv()
        assert service.events.subscriber_count(job_id) == 1
    for _ in range(int(WAIT_S * 100)):
        if service.events.subscriber_count(job_id) == 0:
            break
        await asyncio.sleep(0.01)
    assert service.events.subscriber_count(job_id) == 0


@pytest.mark.parametrize(
    ("who", "code"), [("nobody", 4401), ("stranger", 4404), ("bad token", 4401)]
)
async def test_a_stream_refuses_those_who_may_not_see_the_job(
    live: LiveService, who: str, code: int
) -> None:
    service = live.service
    owner = await service.login_user("ada")
    service.queue.hold = True
    job_id = (await submit(service, owner)).json()["id"]
    headers = {
        "nobody": {},
        "stranger": await service.login_user("bob"),
        "bad token": {"X-Access-Token": "nope"},
    }[who]
    async with live.stream(job_id, headers) as websocket:
        with pytest.raises(ConnectionClosed) as closed:
            await websocket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code
