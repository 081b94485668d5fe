"""``RuntimeProvider``: an account on a qruntime service, logged in; ``provider.runtime`` runs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Protocol

from qruntime.client.api import AuthClient, Instance, RuntimeClient, parse_instance
from qruntime.client.errors import RuntimeRequestError
from qruntime.client.rest import AuthRest, RestSession, RuntimeRest
from qruntime.client.service import RuntimeService
from qruntime.client.tls import Verify, ssl_context
from qruntime.server.tls import local_certificate


class EmbeddedService(Protocol):
    """A service running inside this process (``qruntime.service.start_embedded``)."""

    url: str
    token: str

    def close(self) -> None: ...


class RuntimeProvider:
    """Log in to a qruntime (or IBM-compatible) service and use its runtime.

    Args:
        url: the service, e.g. ``"https://127.0.0.1:8443"`` (``.../api`` is accepted too).
        token: the account's API token.
        verify: ``None`` (system CAs, plus the local self-signed certificate for a service on
            this machine), ``True``, ``False`` or the path of a CA certificate.
        instance: ``"hub/group/project"`` to run under; by default the first instance that
            has the job's backend, the open ``ibm-q/open/main`` last.
        timeout: seconds to wait for each HTTP answer.

    Raises:
        NotAuthorizedError: the token was not accepted, or the account may not use the runtime.
    """

    def __init__(
        self,
        url: str,
        token: str,
        verify: Verify = None,
        instance: str | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._instance = parse_instance(instance) if instance else None
        api_url = self.url if self.url.endswith("/api") else f"{self.url}/api"
        self._session = RestSession(ssl_context(self.url, verify), timeout)
        self._embedded: EmbeddedService | None = None
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        try:
            self._auth = AuthClient(AuthRest(self._session, api_url))
            self._session.access_token = self._auth.login(token)
            self._session.reauthenticate = lambda: self._auth.login(token)
            runtime_url = self._auth.runtime_url()
        except BaseException:
            self._session.close()
            raise
        self._instances: list[Instance] | None = None
        self._backend_names: dict[Instance, list[str]] = {}
        self._client = RuntimeClient(RuntimeRest(self._session, runtime_url))
        self._runtime = RuntimeService(self._client, self._instance_for)

    @classmethod
    def local(cls, data_dir: str | Path | None = None) -> RuntimeProvider:
        """Start a runtime inside this process and connect to it: no server to set up.

        The service keeps its database and certificate in ``data_dir`` (a temporary directory,
        removed by ``close()``, when not given). Call ``close()`` or use ``with`` to stop it.
        """
        temporary = None
        if data_dir is None:
            temporary = tempfile.TemporaryDirectory(prefix="qruntime-")
            data_dir = temporary.name
        path = Path(data_dir).expanduser()
        embedded: EmbeddedService | None = None
        try:
            embedded = _start_embedded(path)
            certificate = local_certificate(path)
            provider = cls(embedded.url, embedded.token, verify=certificate)
        except BaseException:
            if embedded is not None:
                embedded.close()
            if temporary is not None:
                temporary.cleanup()
            raise
        provider._embedded, provider._temporary = embedded, temporary
        return provider

    @property
    def runtime(self) -> RuntimeService:
        """The runtime service: programs and jobs."""
        return self._runtime

    def instances(self) -> list[str]:
        """The account's instances as ``"hub/group/project"``, the default one first."""
        return ["/".join(instance) for instance in self._network_instances()]

    def backends(self, name: str | None = None, instance: str | None = None) -> list[str]:
        """Names of the backends the instance (by default every instance) may use."""
        chosen = parse_instance(instance) if instance else self._instance
        names: list[str] = []
        for each in [chosen] if chosen else self._network_instances():
            names.extend(n for n in self._names_of(each) if n not in names)
        return [n for n in names if name is None or n == name]

    def close(self) -> None:
        """Close the connections and result streams; stop the embedded runtime of ``local()``."""
        self._client.close()
        if self._embedded is not None:
            self._embedded.close()
            self._embedded = None
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def __enter__(self) -> RuntimeProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(url='{self.url}')>"

    def _network_instances(self) -> list[Instance]:
        if self._instances is None:
            try:
                self._instances = self._auth.instances()
            except RuntimeRequestError:
                self._instances = []  # a service without IBM's /Network: it picks the instance
        return self._instances

    def _names_of(self, instance: Instance) -> list[str]:
        if instance not in self._backend_names:
            self._backend_names[instance] = self._auth.backend_names(instance)
        return self._backend_names[instance]

    def _instance_for(self, backend: str, requested: str | None) -> Instance | None:
        """The instance a job on ``backend`` runs under, as IBM's runtime client chose it."""
        if requested:
            return parse_instance(requested)
        if self._instance is not None:
            return self._instance
        instances = self._network_instances()
        if len(instances) <= 1:
            return instances[0] if instances else None
        # The default instance (the open plan) goes last, so a premium one with the backend wins.
        preferred = instances[1:] + instances[:1]
        for instance in preferred:
            if backend in self._names_of(instance):
                return instance
        return preferred[0]


def _start_embedded(data_dir: Path) -> EmbeddedService:
    # Imported here: the server stack (FastAPI, the store, workers) loads only for local().
    from qruntime.service import start_embedded

    return start_embedded(data_dir)
