"""Which certificates the client trusts, for HTTPS and the WebSocket alike.

``verify`` follows the other HTTP clients' convention, with one addition for the laptop case:

* ``None``: for a server on this machine (``localhost``, ``127.0.0.1``, ``::1``) also trust the
  self-signed certificate ``qruntime serve`` made in the data dir, so that connecting to a local
  service needs no certificate plumbing; otherwise the system's certificate authorities.
* ``True``: the system's certificate authorities.
* a path: the CA bundle (or self-signed certificate) in that file.
* ``False``: no verification at all (encryption without authentication).

One ``ssl.SSLContext`` serves both httpx and ``websockets``, so the two never disagree.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

from qruntime.errors import InputError
from qruntime.server.tls import local_certificate
from qruntime.settings import default_data_dir

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

Verify = bool | str | Path | None
"""What ``RuntimeProvider(verify=...)`` accepts."""


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine by one of the names the local certificate holds."""
    return (urlsplit(url).hostname or "").lower() in LOCAL_HOSTS


def trusted_certificate(url: str, verify: Verify, data_dir: Path | None = None) -> Path | None:
    """The certificate file to trust besides the system's CAs, if any."""
    if verify is None:
        return local_certificate(data_dir or default_data_dir()) if is_local(url) else None
    if isinstance(verify, str | Path):
        path = Path(verify).expanduser()
        if not path.is_file():
            raise InputError(
                f"verify={str(verify)!r}: no such certificate file; pass the path of the "
                "server's CA certificate (PEM), True for the system's CAs, or False",
                field="verify",
            )
        return path
    return None


def ssl_context(url: str, verify: Verify, data_dir: Path | None = None) -> ssl.SSLContext:
    """The TLS context for a service at ``url`` (see the module docstring for ``verify``)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    certificate = trusted_certificate(url, verify, data_dir)
    if isinstance(verify, str | Path) and certificate is not None:
        return ssl.create_default_context(cafile=str(certificate))
    context = ssl.create_default_context()
    if certificate is not None:
        # Added to the system's CAs, not instead: a local server with a real certificate works too.
        context.load_verify_locations(cafile=str(certificate))
    return context
