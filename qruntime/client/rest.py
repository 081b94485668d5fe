"""HTTP to a qruntime (or IBM-compatible) service: URLs, headers and status codes, nothing more.

``RestSession`` sends requests with the access token and turns every non-2xx answer into an
exception carrying the server's message and status code (401/403 as ``NotAuthorizedError``, the
rest as ``RuntimeRequestError``); ``AuthRest`` and ``RuntimeRest`` know the paths of IBM's
account API (``/api``) and runtime API (``/runtime``). Meaning (which 404 is which) is given by
the layer above, ``qruntime.client.api``.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from qruntime import __version__
from qruntime.client.errors import NotAuthorizedError, RuntimeRequestError
from qruntime.status import FINAL_ONLY_QUERY, JOB_STATUS_HEADER

CLIENT_APPLICATION = f"qruntime/{__version__}"
_RETRY_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "PATCH"})
_RETRY_DELAYS = (0.5, 1.0, 2.0)
_UNTRUSTED_HINT = (
    ". The server's certificate is not trusted: pass verify=<path of its certificate> "
    "(`qruntime serve` writes DATA_DIR/tls/cert.pem; for a server on this machine, setting "
    "QRUNTIME_DATA_DIR to its data dir is enough), or verify=False to skip the check."
)


class RestSession:
    """One HTTP connection pool with the access token on every request.

    ``reauthenticate`` (set by the provider once logged in) returns a fresh access token; a 401
    answer to an authenticated request calls it once and repeats the request, because access
    tokens expire while API tokens do not.
    """

    def __init__(self, context: ssl.SSLContext, timeout: float = 30.0) -> None:
        transport = httpx.HTTPTransport(verify=context, retries=3)
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"X-Qx-Client-Application": CLIENT_APPLICATION},
        )
        self.ssl_context = context
        self.access_token: str | None = None
        self.reauthenticate: Callable[[], str] | None = None
        self._login_lock = threading.Lock()

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate a request (also sent on the WebSocket upgrade)."""
        return {"X-Access-Token": self.access_token} if self.access_token else {}

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: str | bytes | None = None,
        content_type: str | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send a request; return the 2xx response or raise the error the server described."""
        token_used = self.access_token
        response = self._send(method, url, params, body, content, content_type, authenticated)
        if response.status_code == 401 and authenticated and self.reauthenticate is not None:
            self.refresh_access_token(token_used)
            response = self._send(method, url, params, body, content, content_type, authenticated)
        if response.is_success:
            return response
        message = error_message(response)
        if response.status_code in (401, 403):
            raise NotAuthorizedError(message, response.status_code)
        raise RuntimeRequestError(message, response.status_code)

    def close(self) -> None:
        self._http.close()

    def refresh_access_token(self, token_used: str | None) -> None:
        """Log in again, unless the token was already replaced since ``token_used`` was read."""
        if self.reauthenticate is None:
            return
        with self._login_lock:
            if self.access_token == token_used:  # another thread may have logged in meanwhile
                self.access_token = self.reauthenticate()

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Any,
        content: str | bytes | None,
        content_type: str | None,
        authenticated: bool,
    ) -> httpx.Response:
        headers = self.auth_headers() if authenticated else {}
        if content_type:
            headers["Content-Type"] = content_type
        if body is not None:
            content = json.dumps(body)
            headers["Content-Type"] = "application/json"
        delays = iter(_RETRY_DELAYS if method in _IDEMPOTENT else ())
        while True:
            try:
                response = self._http.request(
                    method, url, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                hint = _UNTRUSTED_HINT if "CERTIFICATE_VERIFY_FAILED" in str(exc) else ""
                raise RuntimeRequestError(f"cannot reach {url}: {exc}{hint}") from exc
            delay = next(delays, None) if response.status_code in _RETRY_STATUSES else None
            if delay is None:
                return response
            time.sleep(delay)


def error_message(response: httpx.Response) -> str:
    """The server's explanation: ``error.message`` of IBM's error JSON, else the body's text."""
    reason = f"{response.status_code} {response.reason_phrase}".strip()
    try:
        payload = response.json()
    except ValueError:
        text = response.text.strip()
        return f"{reason}: {text}" if text else reason
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return f"{reason}: {response.text.strip()}"


def _segment(value: str) -> str:
    return quote(value, safe="")


class AuthRest:
    """IBM's account API under ``api_url`` (``https://host/api``)."""

    def __init__(self, session: RestSession, api_url: str) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")

    def login(self, api_token: str) -> dict[str, Any]:
        """``POST /users/loginWithToken``: the access token is the answer's ``id``."""
        response = self.session.request(
            "POST",
            f"{self.api_url}/users/loginWithToken",
            body={"apiToken": api_token},
            authenticated=False,
        )
        return _json_object(response)

    def me(self) -> dict[str, Any]:
        """``GET /users/me``: the account, with ``urls.services.runtime``."""
        return _json_object(self.session.request("GET", f"{self.api_url}/users/me"))

    def network(self) -> Any:
        """``GET /Network``: the account's hubs, groups and projects."""
        return self.session.request("GET", f"{self.api_url}/Network").json()

    def devices(self, hub: str, group: str, project: str) -> Any:
        """The backend configurations an instance may use."""
        path = (
            f"/Network/{_segment(hub)}/Groups/{_segment(group)}"
            f"/Projects/{_segment(project)}/devices/v/1"
        )
        return self.session.request("GET", self.api_url + path).json()


class RuntimeRest:
    """IBM's runtime API under ``runtime_url`` (``urls.services.runtime``)."""

    def __init__(self, session: RestSession, runtime_url: str) -> None:
        self.session = session
        self.runtime_url = runtime_url.rstrip("/")

    def _url(self, *segments: str) -> str:
        return "/".join([self.runtime_url, *segments])

    def programs(self, limit: int, offset: int) -> dict[str, Any]:
        params = {"limit": limit, **({"offset": offset} if offset else {})}
        return _json_object(self.session.request("GET", self._url("programs"), params=params))

    def program(self, program_id: str) -> dict[str, Any]:
        return _json_object(
            self.session.request("GET", self._url("programs", _segment(program_id)))
        )

    def program_create(self, program: dict[str, Any]) -> dict[str, Any]:
        return _json_object(self.session.request("POST", self._url("programs"), body=program))

    def program_data(self, program_id: str, data_base64: str) -> None:
        url = self._url("programs", _segment(program_id), "data")
        self.session.request(
            "PUT", url, content=data_base64, content_type="application/octet-stream"
        )

    def program_patch(self, program_id: str, fields: dict[str, Any]) -> None:
        self.session.request("PATCH", self._url("programs", _segment(program_id)), body=fields)

    def program_delete(self, program_id: str) -> None:
        self.session.request("DELETE", self._url("programs", _segment(program_id)))

    def program_visibility(self, program_id: str, public: bool) -> None:
        url = self._url("programs", _segment(program_id), "public" if public else "private")
        self.session.request("PUT", url)

    def job_run(self, encoded_body: str) -> dict[str, Any]:
        """``POST /jobs`` with a body already encoded (its params hold RuntimeEncoder values)."""
        response = self.session.request(
            "POST", self._url("jobs"), content=encoded_body, content_type="application/json"
        )
        return _json_object(response)

    def jobs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return _json_object(self.session.request("GET", self._url("jobs"), params=params))

    def job(self, job_id: str) -> dict[str, Any]:
        return _json_object(self.session.request("GET", self._url("jobs", _segment(job_id))))

    def job_results(self, job_id: str) -> str:
        return self.job_outcome(job_id)[1]

    def job_outcome(self, job_id: str) -> tuple[str | None, str]:
        """The job's status as the results route tells it (qruntime's ``X-Job-Status``;
        ``None`` from a service without it) and the route's text (empty while running)."""
        response = self.session.request("GET", self._url("jobs", _segment(job_id), "results"))
        return response.headers.get(JOB_STATUS_HEADER), response.text

    def job_interim_results(self, job_id: str) -> str:
        url = self._url("jobs", _segment(job_id), "interim_results")
        return self.session.request("GET", url).text

    def job_logs(self, job_id: str) -> str:
        return self.session.request("GET", self._url("jobs", _segment(job_id), "logs")).text

    def job_cancel(self, job_id: str) -> None:
        self.session.request("POST", self._url("jobs", _segment(job_id), "cancel"))

    def job_delete(self, job_id: str) -> None:
        self.session.request("DELETE", self._url("jobs", _segment(job_id)))

    def session_close(self, session_id: str) -> None:
        self.session.request("DELETE", self._url("sessions", _segment(session_id), "close"))

    def stream_url(self, job_id: str, interim: bool = True) -> str:
        """``wss://.../stream/jobs/{id}`` (``ws://`` for a service without TLS). Not
        ``interim``: ask for the final result only (a qruntime service sends no interim results
        then; IBM's would ignore the question)."""
        scheme, _, rest = self.runtime_url.partition("://")
        ws_scheme = {"https": "wss", "http": "ws"}.get(scheme.lower(), scheme)
        url = f"{ws_scheme}://{rest}/stream/jobs/{_segment(job_id)}"
        return url if interim else f"{url}?{FINAL_ONLY_QUERY}"


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError as exc:
        raise RuntimeRequestError(
            f"{response.request.method} {response.request.url} answered with text that is not "
            f"JSON: {response.text[:200]!r}",
            response.status_code,
        ) from exc
    if not isinstance(payload, dict):
        raise RuntimeRequestError(
            f"{response.request.method} {response.request.url} answered with JSON that is not "
            f"an object: {response.text[:200]!r}",
            response.status_code,
        )
    return payload
