"""The self-signed certificate serves HTTPS that a client trusting that file accepts."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from qruntime.server.tls import ensure_self_signed, local_certificate


def test_created_once_and_reused(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls")
    cert = first.certfile.read_bytes()
    second = ensure_self_signed(tmp_path / "tls")
    assert second.certfile.read_bytes() == cert
    assert first.keyfile.stat().st_mode & 0o077 == 0
    assert local_certificate(tmp_path) == first.certfile


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_client_trusting_the_file_completes_the_handshake(tmp_path: Path, host: str) -> None:
    files = ensure_self_signed(tmp_path / "tls")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(files.certfile, files.keyfile)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve_one() -> None:
        conn, _ = listener.accept()
        with server_context.wrap_socket(conn, server_side=True) as tls:
            received.append(tls.recv(5))

    thread = threading.Thread(target=serve_one)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(files.certfile))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        client_context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"hello")
    thread.join(timeout=10)
    listener.close()
    assert received == [b"hello"]


def test_a_client_without_the_file_refuses(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path / "tls")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(files.certfile, files.keyfile)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        conn, _ = listener.accept()
        try:
            server_context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            conn.close()

    thread = threading.Thread(target=serve_one)
    thread.start()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    thread.join(timeout=10)
    listener.close()
