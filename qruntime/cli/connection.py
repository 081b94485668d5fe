"""Which server the remote commands talk to, with which API token and which certificates.

Each setting is taken from the most explicit place that has it:

* the server: ``--url``, ``$QRUNTIME_URL``, else ``https://127.0.0.1:8443``;
* the token: ``--token``, ``$QRUNTIME_TOKEN``, else, for a server on this machine, the token
  ``qruntime serve`` wrote for its operator in ``DATA_DIR/admin-token``;
* the certificates: ``--cacert`` or ``--verify/--no-verify``, else the system's CAs plus, for a
  server on this machine, the self-signed certificate in ``DATA_DIR/tls``.

Client errors become one-line messages and exit codes in ``client_errors``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from qruntime.cli.console import fail
from qruntime.errors import InputError
from qruntime.settings import ADMIN_TOKEN_FILE, DEFAULT_PORT, default_data_dir

# The client is imported where it is used: it loads Qiskit, which --help and --local do not need.
if TYPE_CHECKING:
    from qruntime.client import RuntimeProvider
    from qruntime.client.tls import Verify

DEFAULT_URL = f"https://127.0.0.1:{DEFAULT_PORT}"
_PANEL = "Connection"
_PROBE_SECONDS = 3.0

Url = Annotated[
    str | None,
    typer.Option(
        envvar="QRUNTIME_URL",
        help=f"The server \\[default: {DEFAULT_URL}].",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        envvar="QRUNTIME_TOKEN",
        help="API token \\[default: DATA_DIR/admin-token for a server on this machine].",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
VerifyFlag = Annotated[
    bool | None,
    typer.Option(
        "--verify/--no-verify",
        help="Check the server's certificate against the system's CAs only, or not at all "
        "\\[default: the system's CAs, plus DATA_DIR/tls/cert.pem for a server on this machine].",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]
CaCert = Annotated[
    Path | None,
    typer.Option(
        help="The server's CA certificate (PEM) to trust, e.g. its DATA_DIR/tls/cert.pem.",
        exists=True,
        dir_okay=False,
        rich_help_panel=_PANEL,
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Data dir of a server on this machine, for its token and certificate "
        "\\[default: $QRUNTIME_DATA_DIR or ~/.qruntime].",
        rich_help_panel=_PANEL,
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Connection:
    """Where the server is and how to log in to it, resolved from the options."""

    url: str
    token: str | None
    token_source: str
    """Where the token came from, for messages: an option, or the admin-token file."""
    verify: Verify
    url_given: bool
    """Whether the user named the server (``--url`` or ``$QRUNTIME_URL``), not the default."""

    @classmethod
    def from_options(
        cls,
        url: str | None,
        token: str | None,
        verify: bool | None,
        cacert: Path | None,
        data_dir: Path | None,
    ) -> Connection:
        """Resolve the connection options; a contradiction or a malformed URL exits with 2."""
        from qruntime.client.tls import is_local

        server = (url or DEFAULT_URL).rstrip("/")
        parts = urlsplit(server)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise fail(f"--url takes https://HOST:PORT, not {server!r}")
        directory = (data_dir or default_data_dir()).expanduser()
        token, source = token or None, "--token or $QRUNTIME_TOKEN"
        token_file = directory / ADMIN_TOKEN_FILE
        if token is None and is_local(server) and token_file.is_file():
            try:
                token = token_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise fail(f"cannot read the API token in {token_file}: {exc}") from None
            source = str(token_file)
        return cls(server, token, source, _verify(server, verify, cacert, directory), bool(url))

    def reachable(self) -> bool:
        """Whether something accepts connections at the URL's host and port."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=_PROBE_SECONDS):
                return True
        except OSError:
            return False

    def unreachable(self, reason: str = "nothing is listening there") -> typer.Exit:
        """The error for a server that cannot be reached, saying what to do instead."""
        return fail(
            f"could not connect to {self.url} ({reason}). Start a server with `qruntime serve`, "
            "name another with --url or $QRUNTIME_URL, or add --local to work in this process "
            "without a server"
        )

    def connect(self) -> RuntimeProvider:
        """Log in; every failure exits with a message (2: unreachable, refused, no token)."""
        from qruntime.client import RuntimeProvider
        from qruntime.client.tls import is_local

        # A server on this machine is checked first: a refused connection then fails at once,
        # instead of after the HTTP client's retries. Remote URLs may need a proxy, so they are not.
        if is_local(self.url) and not self.reachable():
            raise self.unreachable()
        if self.token is None:
            raise fail(
                f"no API token for {self.url}: pass --token or set $QRUNTIME_TOKEN "
                "(`qruntime admin create-user` prints one; for a server on this machine, "
                "--data-dir names the data dir whose admin-token file to use)"
            )
        with client_errors(self):
            return RuntimeProvider(self.url, self.token, verify=self.verify)


def _verify(url: str, verify: bool | None, cacert: Path | None, data_dir: Path) -> Verify:
    from qruntime.client.tls import is_local
    from qruntime.server.tls import local_certificate

    if cacert is not None:
        if verify is not None:
            raise fail("give --cacert or --verify/--no-verify, not both")
        return cacert
    if verify is not None:
        return verify
    return local_certificate(data_dir) if is_local(url) else None


@contextmanager
def client_errors(connection: Connection) -> Iterator[None]:
    """Turn the client's errors into a one-line message and exit code 2 (1 for a server fault)."""
    from qruntime.client import (
        NotAuthorizedError,
        RuntimeClientError,
        RuntimeDuplicateProgramError,
        RuntimeJobNotFound,
        RuntimeProgramNotFound,
    )

    try:
        yield
    except NotAuthorizedError as exc:
        if exc.status_code == 401:
            raise fail(
                f"the server refused the token from {connection.token_source} at "
                f"{connection.url}; check it, or ask for a new one "
                "(`qruntime admin create-user` prints one)"
            ) from None
        raise fail(f"the server did not allow it: {exc.message}") from None
    except (RuntimeJobNotFound, RuntimeProgramNotFound, RuntimeDuplicateProgramError) as exc:
        raise fail(exc.message) from None
    except RuntimeClientError as exc:
        if exc.status_code is None and "CERTIFICATE_VERIFY_FAILED" in exc.message:
            raise fail(
                f"the certificate of {connection.url} is not trusted: pass --cacert with the "
                "server's certificate (`qruntime serve` writes DATA_DIR/tls/cert.pem), "
                "--data-dir with a local server's data dir, or --no-verify"
            ) from None
        if exc.status_code is None:
            raise connection.unreachable(exc.message) from None
        raise fail(exc.message, code=1 if exc.status_code >= 500 else 2) from None
    except InputError as exc:
        raise fail(str(exc)) from None
