"""Connection failures classified from facts (bsstream/netcheck.py, bsstream/diagnose.py):
DNS, TCP, our own TLS handshake and the server's first bytes, against real servers on
127.0.0.1 (the emulator with and without TLS, and raw sockets that misbehave on purpose).
Exit codes and retries come from status codes and these facts, never from message text."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bsstream import netcheck
from bsstream.diagnose import diagnose, explain, hint
from bsstream.emulator.server import Emulator
from bsstream.settings import Endpoint
from bsstream.status import (
    ConnectionFailure,
    ExitStatus,
    RetryKind,
    connection_hint,
    error_for_grpc,
    is_transient,
    retry_kind,
)
from tests.clirun import bsstream
from tests.conftest import tone_pcm, write_wav

KEY = "sk-tls-RECOGNISABLE-24680"
TIMEOUT = 5.0


@dataclass(frozen=True)
class Pki:
    ca: Path  # a private CA
    key: Path  # one key for every leaf
    good: Path  # signed by ca, for localhost and 127.0.0.1
    other: Path  # signed by ca, for other.example and *.other.example only
    expired: Path  # signed by ca, for 127.0.0.1, expired yesterday

    def pem(self, path: Path) -> bytes:
        return path.read_bytes()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

    run(
        "req",
        "-x509",
        *ec,
        "-days",
        "2",
        "-subj",
        "/CN=bsstream test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    run("req", *ec, "-subj", "/CN=leaf", "-keyout", "leaf.key", "-out", "leaf.csr")
    leaves = {
        "good": ("subjectAltName=DNS:localhost,IP:127.0.0.1", "2"),
        "other": ("subjectAltName=DNS:other.example,DNS:*.other.example", "2"),
        "expired": ("subjectAltName=DNS:localhost,IP:127.0.0.1", "-1"),
    }
    for serial, (name, (ext, days)) in enumerate(leaves.items(), start=1):
        (d / f"{name}.ext").write_text(ext + "\n")
        run(
            "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(serial), "-days", days, "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        )  # fmt: skip
    return Pki(d / "ca.pem", d / "leaf.key", d / "good.pem", d / "other.pem", d / "expired.pem")


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[Callable[[Path], Emulator]]:
    """Start the emulator serving TLS with one of the test leaves."""
    started: list[Emulator] = []

    def start(leaf: Path) -> Emulator:
        emulator = Emulator(tls_cert=leaf.read_bytes(), tls_key=pki.key.read_bytes())
        emulator.start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop(grace=0)


@pytest.fixture
def plain_server() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with ``handle``."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self.handle = handle
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self.handle(conn)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handle: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def final_line(endpoint: str, **kw: object) -> str:
    error = diagnose(endpoint, timeout=TIMEOUT, **kw)  # type: ignore[arg-type]
    assert isinstance(error, ConnectionFailure), error
    assert error.exit_status == ExitStatus.CONNECTION
    line = error.line()
    assert "\n" not in line
    return line


# -- TLS verification: one accurate line per kind, never "--insecure" ---------------------------


def test_hostname_mismatch_says_which_names_the_certificate_covers(pki: Pki, tls_server) -> None:
    emulator = tls_server(pki.other)
    for host in ("127.0.0.1", "localhost"):
        line = final_line(f"{host}:{emulator.port}", insecure=False, ca_cert=pki.pem(pki.ca))
        assert f"not valid for {host}" in line
        assert "other.example, *.other.example" in line
        assert "--insecure" not in line and "nothing answered" not in line


def test_unknown_ca_suggests_ca_cert(pki: Pki, tls_server) -> None:
    emulator = tls_server(pki.good)
    line = final_line(emulator.address, insecure=False, ca_cert=None)
    assert "signed by a CA not trusted" in line and "--ca-cert" in line
    assert "--insecure" not in line


def test_self_signed_certificate(tls_pair: tuple[Path, Path]) -> None:
    cert, key = tls_pair
    with Emulator(tls_cert=cert.read_bytes(), tls_key=key.read_bytes()) as emulator:
        line = final_line(emulator.address, insecure=False, ca_cert=None)
        assert "self-signed" in line and "--ca-cert" in line and "--insecure" not in line
        assert diagnose(emulator.address, insecure=False, ca_cert=cert.read_bytes(), timeout=TIMEOUT) is None


def test_wrong_ca_cert_says_so(pki: Pki, tls_pair: tuple[Path, Path], tls_server) -> None:
    emulator = tls_server(pki.good)
    line = final_line(emulator.address, insecure=False, ca_cert=tls_pair[0].read_bytes())
    assert "not trusted by the CA in --ca-cert" in line and "--insecure" not in line


def test_expired_certificate_gives_its_date(pki: Pki, tls_server) -> None:
    emulator = tls_server(pki.expired)
    line = final_line(emulator.address, insecure=False, ca_cert=pki.pem(pki.ca))
    assert "expired on" in line and "GMT" in line and "clock" in line
    assert "--insecure" not in line


def test_trusted_certificate_is_not_a_diagnosis(pki: Pki, tls_server) -> None:
    emulator = tls_server(pki.good)
    for host in ("127.0.0.1", "localhost"):
        endpoint = f"{host}:{emulator.port}"
        assert diagnose(endpoint, insecure=False, ca_cert=pki.pem(pki.ca), timeout=TIMEOUT) is None
        assert explain(endpoint, insecure=False, ca_cert=pki.pem(pki.ca), timeout=TIMEOUT) is None


# -- plaintext / TLS mismatch -------------------------------------------------------------------


def test_tls_client_to_plaintext_server(plain_server: Emulator) -> None:
    line = final_line(plain_server.address, insecure=False, ca_cert=None)
    assert "speaks plaintext HTTP/2" in line
    assert "use --insecure only for a local or trusted server" in line
    assert diagnose(plain_server.address, insecure=True, ca_cert=None, timeout=TIMEOUT) is None


def test_insecure_client_to_tls_server(pki: Pki, tls_server) -> None:
    emulator = tls_server(pki.good)
    line = final_line(emulator.address, insecure=True, ca_cert=None)
    assert "speaks TLS" in line and "drop --insecure" in line


def test_server_that_is_not_grpc(raw_server) -> None:
    def http1(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(http1)
    line = final_line(server.address, insecure=True, ca_cert=None)
    assert "does not speak HTTP/2" in line and "HTTP/1.1 400" in line
    line = final_line(server.address, insecure=False, ca_cert=None)
    assert "does not speak TLS" in line and "HTTP/1.1 400" in line


def test_tls_server_without_http2(tls_pair: tuple[Path, Path], raw_server) -> None:
    cert, key = tls_pair
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)  # and no ALPN: an HTTPS server that is not gRPC

    def https(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    server = raw_server(https)
    line = final_line(server.address, insecure=False, ca_cert=cert.read_bytes())
    assert "did not agree to HTTP/2" in line


# -- retryable: the server may come back ---------------------------------------------------------


def test_refused_is_retryable_with_a_hint() -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    for insecure in (True, False):
        assert diagnose(endpoint, insecure=insecure, ca_cert=None, timeout=TIMEOUT) is None
    finding = explain(endpoint, insecure=True, ca_cert=None, timeout=TIMEOUT)
    assert finding is not None and finding.check == "tcp" and not finding.final
    assert "connection refused" in finding.detail
    line = hint(endpoint, insecure=True, ca_cert=None, timeout=TIMEOUT)
    assert line is not None and "check the port" in line


def test_server_closing_at_once_is_retryable(raw_server) -> None:
    server = raw_server(lambda conn: None)  # accept, then close
    for insecure in (True, False):
        finding = explain(server.address, insecure=insecure, ca_cert=None, timeout=TIMEOUT)
        assert finding is not None and not finding.final, finding
        assert diagnose(server.address, insecure=insecure, ca_cert=None, timeout=TIMEOUT) is None


def test_server_that_never_answers_is_retryable(raw_server) -> None:
    release = threading.Event()
    server = raw_server(lambda conn: release.wait(5))  # reads nothing, says nothing
    try:
        for insecure in (True, False):
            finding = explain(server.address, insecure=insecure, ca_cert=None, timeout=0.3)
            assert finding is not None and not finding.final and "within 0.3 s" in finding.detail
    finally:
        release.set()


# -- DNS: by errno, not by text -----------------------------------------------------------------


def test_name_that_cannot_exist_is_final() -> None:
    line = final_line(f"{'a' * 64}.invalid:443", insecure=True, ca_cert=None)
    assert "not a valid host name" in line and "--endpoint" in line


@pytest.mark.parametrize(("errno", "final"), [(socket.EAI_NONAME, True), (socket.EAI_AGAIN, False)])
def test_dns_failure_is_classified_by_errno(monkeypatch: pytest.MonkeyPatch, errno: int, final: bool) -> None:
    def fail(*args: object, **kw: object) -> list[object]:
        raise socket.gaierror(errno, "whatever the resolver says")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    finding = netcheck.resolve(Endpoint("api.example.com", 443))
    assert not finding.ok and finding.final is final
    assert "api.example.com does not resolve" in finding.detail
    error = diagnose("api.example.com:443", insecure=False, ca_cert=None, timeout=TIMEOUT)
    assert (error is not None) is final


# -- status codes decide; details only pick a hint -----------------------------------------------


@pytest.mark.parametrize(
    "details",
    [
        "",
        "failed to connect to all addresses; last error: UNKNOWN: Tls handshake failed (TSI_PROTOCOL_FAILURE)",  # noqa: E501
        "Custom verification check failed with error: UNAUTHENTICATED: Hostname Verification Check failed.",
        "errors resolving x.invalid:443: Domain name not found",
        "Received RST_STREAM with error code 2",
    ],
)
def test_codes_decide_exit_status_and_retry_whatever_the_details(details: str) -> None:
    assert is_transient("UNAVAILABLE", details) and is_transient("ABORTED", details)
    assert not is_transient("INTERNAL", details) and not is_transient("INVALID_ARGUMENT", details)
    assert retry_kind("RESOURCE_EXHAUSTED") is RetryKind.SLOW
    assert error_for_grpc("UNAVAILABLE", details).exit_status == ExitStatus.CONNECTION
    assert error_for_grpc("UNAUTHENTICATED", details).exit_status == ExitStatus.AUTH
    assert error_for_grpc("INTERNAL", details).exit_status == ExitStatus.SERVICE_ERROR


def test_hints_never_suggest_insecure_for_a_certificate_problem() -> None:
    untrusted = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Tls handshake failed "
        "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
        "CERTIFICATE_VERIFY_FAILED: self signed certificate"
    )
    mismatch = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Custom verification "
        "check failed with error: UNAUTHENTICATED: Hostname Verification Check failed."
    )
    for details in (untrusted, mismatch):
        text = connection_hint(details, insecure=False)
        assert text is not None and "--ca-cert" in text and "--insecure" not in text
        assert "nothing answered" not in text
    plaintext = connection_hint("Tls handshake failed: ...:WRONG_VERSION_NUMBER", insecure=False)
    assert plaintext is not None and "only for a local or trusted server" in plaintext
    refused = connection_hint(
        "ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused", insecure=True
    )
    assert refused is not None and "nothing answered" in refused


# -- the CLI: doctor and analyze -----------------------------------------------------------------


def test_doctor_names_the_tls_problem(pki: Pki, tls_server) -> None:
    other = tls_server(pki.other)
    r = bsstream(
        "doctor", "--endpoint", other.address, "--ca-cert", str(pki.ca), "--cid", "7", "--api-key", KEY
    )
    assert r.code == 5, r.out + r.err
    last = r.out.strip().splitlines()[-1]
    assert last.startswith("✗ tls") and "other.example" in last and "--insecure" not in last
    good = tls_server(pki.good)
    r = bsstream("doctor", "--endpoint", good.address, "--cid", "7", "--api-key", KEY)
    last = r.out.strip().splitlines()[-1]
    assert r.code == 5 and "not trusted" in last and "--ca-cert" in last and "--insecure" not in last
    r = bsstream(
        "doctor", "--endpoint", good.address, "--ca-cert", str(pki.ca), "--cid", "7", "--api-key", KEY
    )
    assert r.code == 0, r.out + r.err
    assert KEY not in r.out + r.err


@pytest.mark.parametrize("content", [b"not a certificate\n", b"\x30\x82\x01\x0a\x02\x82", b""])
@pytest.mark.parametrize("command", ["analyze", "doctor"])
def test_non_pem_ca_cert_is_a_usage_error(tmp_path: Path, content: bytes, command: str) -> None:
    bad = tmp_path / "ca.der"
    bad.write_bytes(content)
    wav = str(write_wav(tmp_path / "t.wav", tone_pcm(0.2)))
    args = [wav] if command == "analyze" else []
    r = bsstream(
        command, *args, "--endpoint", "127.0.0.1:1", "--ca-cert", str(bad), "--cid", "7", "--api-key", KEY
    )
    assert r.code == 2, r.out + r.err
    (line,) = r.err.strip().splitlines()
    assert str(bad) in line and "PEM" in line and "Traceback" not in r.err


def test_ca_cert_that_claims_pem_but_does_not_parse(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    r = bsstream("doctor", "--endpoint", "127.0.0.1:1", "--ca-cert", str(bad), "--cid", "7", "--api-key", KEY)
    assert r.code == 2 and str(bad) in r.err and "does not parse" in r.err


def test_analyze_gives_the_fact_once_and_does_not_retry(pki: Pki, tls_server, plain_server, tmp_path) -> None:
    """The session asks diagnose() when the first attempt fails before any answer: a final
    finding is the stream's one error line (exit 5), with no reconnect attempts."""
    wav = str(write_wav(tmp_path / "t.wav", tone_pcm(0.3)))
    other = tls_server(pki.other)
    good = tls_server(pki.good)
    cases = [
        (other.address, ["--ca-cert", str(pki.ca)], "other.example"),
        (good.address, [], "not trusted"),
        (plain_server.address, [], "speaks plaintext"),
        (good.address, ["--insecure"], "drop --insecure"),
    ]
    for address, extra, needle in cases:
        r = bsstream("analyze", wav, "--endpoint", address, *extra, "--cid", "7", "--api-key", KEY)
        assert r.code == 5, (address, extra, r.err)
        (line,) = r.err.strip().splitlines()
        assert needle in line and wav in line, line
        assert "reconnect" not in line and "Traceback" not in r.err and KEY not in r.err
        if needle != "speaks plaintext":
            assert "use --insecure" not in line
