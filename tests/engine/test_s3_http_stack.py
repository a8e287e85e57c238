"""aiohttp imported by the S3 package: its default TLS contexts load the CA store
on first use, and then verify exactly as aiohttp's own do."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_PEM = serialization.Encoding.PEM


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    else:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _https_server(folder: Path, name: str, ca: str) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate CA ``ca`` signed (new keys)."""
    ca_key, key = _key(), _key()
    (folder / f"{ca}.pem").write_bytes(
        _certificate(ca, ca_key, ca, ca_key, ca=True).public_bytes(_PEM))
    chain = folder / f"{name}.pem"
    chain.write_bytes(
        _certificate("127.0.0.1", key, ca, ca_key, ca=False).public_bytes(_PEM)
        + key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()))

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """The trusted CA's file, a server it signed and one another CA signed."""
    trusted = _https_server(tmp_path, "good", "trusted-ca")
    other = _https_server(tmp_path, "bad", "other-ca")
    yield tmp_path / "trusted-ca.pem", next(trusted), next(other)
    for server in (trusted, other):
        next(server, None)


_CLIENT = """
import asyncio, sys
import orbit_gui.engine.backends.s3
import aiohttp, aiohttp.connector as connector

stored = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]
print("at import", stored)

async def main(good, bad):
    async with aiohttp.ClientSession() as session:
        async with session.get(good) as answer:
            print("trusted", await answer.text())
        try:
            async with session.get(bad):
                print("other accepted")
        except aiohttp.ClientConnectorCertificateError:
            print("other refused")

asyncio.run(main(*sys.argv[1:]))
print("after", connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"])
"""


def test_default_contexts_load_the_ca_store_on_first_use_and_verify(
        servers: tuple[Path, str, str]) -> None:
    ca_file, good, bad = servers
    env = {**os.environ, "SSL_CERT_FILE": str(ca_file), "SSL_CERT_DIR": str(ca_file.parent)}
    done = subprocess.run([sys.executable, "-c", _CLIENT, good, bad], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == [
        "at import 0", "trusted hello", "other refused", "after 1"]


def test_contexts_made_outside_the_import_are_untouched() -> None:
    import orbit_gui.engine.backends.s3  # noqa: F401

    assert "set_default_verify_paths" not in vars(ssl.SSLContext)
    assert type(ssl.create_default_context()) is ssl.SSLContext
