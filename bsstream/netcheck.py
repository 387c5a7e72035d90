"""Facts about an endpoint that we establish ourselves: a DNS lookup, a TCP connect, our own TLS
handshake with the trust gRPC uses, and the first bytes the server sends.

Shared by ``bsstream doctor`` (one line per check) and ``bsstream.diagnose`` (why a first
connection failed). Every conclusion comes from a structured fact (an errno, an exception type,
OpenSSL's verify code, the bytes on the wire), never from the wording of an error message.
Imports no grpc: the same trust is found by path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bsstream.settings import Endpoint

# HTTP/2 client connection preface (RFC 9113 section 3.4) followed by an empty SETTINGS frame
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_FRAME_HEADER = 9
_H2_SETTINGS, _H2_GOAWAY = 0x04, 0x07
_TLS_RECORD_TYPES = (0x14, 0x15, 0x16, 0x17)  # change_cipher_spec, alert, handshake, application_data
_FIRST_BYTES = 64

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h), as ssl.SSLCertVerificationError.verify_code
_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
_V_ERR_CERT_NOT_YET_VALID = 9
_V_ERR_CERT_HAS_EXPIRED = 10
_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_V_ERR_HOSTNAME_MISMATCH = 62
_V_ERR_IP_ADDRESS_MISMATCH = 64
_X509_V_FLAG_NO_CHECK_TIME = 0x200000

UNKNOWN_ISSUER = frozenset(
    {
        _V_ERR_UNABLE_TO_GET_ISSUER_CERT,
        _V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        _V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    }
)
SELF_SIGNED = frozenset({_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, _V_ERR_SELF_SIGNED_CERT_IN_CHAIN})
NAME_MISMATCH = frozenset({_V_ERR_HOSTNAME_MISMATCH, _V_ERR_IP_ADDRESS_MISMATCH})
EXPIRED = frozenset({_V_ERR_CERT_HAS_EXPIRED, _V_ERR_CERT_NOT_YET_VALID})


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check. ``final``: a failure that retrying cannot fix."""

    check: str  # "resolve", "tcp", "tls" or "plaintext"
    ok: bool
    detail: str
    fix: str = ""
    final: bool = False
    addresses: tuple[tuple[str, int], ...] = ()


def _host(endpoint: Endpoint) -> str:
    return endpoint.host.strip("[]")


# -- DNS and TCP ---------------------------------------------------------------------------------


_RESOLVE_FIX = "check the host name in --endpoint / BS_ENDPOINT"


def resolve(endpoint: Endpoint) -> Finding:
    """Look the host up. A name that does not exist is final; a temporary DNS failure is not."""
    try:
        infos = socket.getaddrinfo(_host(endpoint), endpoint.port, type=socket.SOCK_STREAM)
    except UnicodeError:  # e.g. a label longer than 63 characters
        return Finding(
            "resolve", False, f"{endpoint.host} is not a valid host name", _RESOLVE_FIX, final=True
        )
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN
        reason = exc.strerror or "lookup failed"
        return Finding(
            "resolve",
            False,
            f"{endpoint.host} does not resolve: {reason}",
            "check your network and DNS, then retry" if temporary else _RESOLVE_FIX,
            final=not temporary,
        )
    except OSError as exc:  # the resolver itself failed (out of memory, ...): may pass
        return Finding("resolve", False, f"cannot look {endpoint.host} up: {exc.strerror or exc}", "retry")
    addresses: list[tuple[str, int]] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = (str(sockaddr[0]), int(sockaddr[1]))
            if address not in addresses:
                addresses.append(address)
    shown = ", ".join(sorted({a for a, _ in addresses}))
    return Finding("resolve", True, f"{endpoint.host} -> {shown}", addresses=tuple(addresses))


def connect(endpoint: Endpoint, addresses: tuple[tuple[str, int], ...], timeout: float) -> Finding:
    """Open TCP to the first address that accepts. A failure is never final: a server that is
    down, restarting or briefly unreachable may answer the next attempt."""
    reason = "no address"
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return Finding("tcp", True, f"connected to {host}:{port}")
        except ConnectionRefusedError:
            reason = "connection refused, nothing listens there"
        except TimeoutError:
            reason = f"no answer within {timeout:g} s"
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    return Finding(
        "tcp",
        False,
        f"cannot connect to {endpoint.target}: {reason}",
        "check the port in --endpoint and that the server is up; a firewall may block it",
    )


# -- what the server sends first -----------------------------------------------------------------


def is_tls_record(data: bytes) -> bool:
    """A TLS record header: a known content type and a 3.x protocol version."""
    return len(data) >= 2 and data[0] in _TLS_RECORD_TYPES and data[1] == 0x03


def is_http2_frame(data: bytes) -> bool:
    """An HTTP/2 SETTINGS or GOAWAY frame on stream 0: what a plaintext gRPC server sends first."""
    return (
        len(data) >= _H2_FRAME_HEADER
        and data[3] in (_H2_SETTINGS, _H2_GOAWAY)
        and int.from_bytes(data[5:9], "big") & 0x7FFFFFFF == 0
    )


def _shown(data: bytes) -> str:
    text = data[:24].decode("ascii", "replace")
    if text.isprintable():
        return repr(text)
    return data[:12].hex(" ")


# -- TLS -----------------------------------------------------------------------------------------


def _grpc_roots() -> Path | None:
    """The roots gRPC's Python package trusts when no CA is given (found without importing grpc)."""
    override = os.environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
    if override:
        return Path(override)
    try:
        spec = importlib.util.find_spec("grpc")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        roots = Path(location) / "_cython" / "_credentials" / "roots.pem"
        if roots.is_file():
            return roots
    return None


def client_context(ca_cert: bytes | None, *, verify: bool = True) -> ssl.SSLContext:
    """A TLS client context with gRPC's trust: ``ca_cert`` when given, else gRPC's roots."""
    if ca_cert is not None:
        context = ssl.create_default_context(cadata=ca_cert.decode("ascii", "replace"))
    else:  # exactly gRPC's roots (not the union with the system's), else the system's
        roots = _grpc_roots()
        context = ssl.create_default_context()
        if roots is not None:
            with contextlib.suppress(OSError, ssl.SSLError):
                context = ssl.create_default_context(cafile=str(roots))
    # Python 3.13's default context adds strict RFC 5280 checks (e.g. a CA without a key-usage
    # extension fails) that gRPC's TLS does not make: without this, a certificate gRPC accepts
    # would be diagnosed as failing on 3.13 only.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


PeerCert = Mapping[str, object]
"""A certificate as :meth:`ssl.SSLObject.getpeercert` parses it (``subject``, ``subjectAltName``,
``notAfter``, ...)."""


@dataclass(slots=True)
class Handshake:
    """One TLS handshake attempt and what came back."""

    first: bytes  # the first bytes the server sent (up to 64)
    error: BaseException | None  # None: the handshake completed
    alpn: str | None = None
    peer: PeerCert | None = None  # the parsed certificate (only when it was verified)


def handshake(endpoint: Endpoint, context: ssl.SSLContext, timeout: float) -> Handshake:
    """Run a TLS handshake over our own socket (through memory BIOs, so the server's first
    bytes are seen as they arrived), with SNI and hostname check for the endpoint's host."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=_host(endpoint))
    first = bytearray()
    deadline = time.monotonic() + timeout  # for the whole handshake, however the server trickles
    try:
        with socket.create_connection((_host(endpoint), endpoint.port), timeout=timeout) as sock:
            while True:
                try:
                    tls.do_handshake()
                except ssl.SSLWantReadError:
                    pending = outgoing.read()
                    if pending:
                        sock.sendall(pending)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError("TLS handshake timed out") from None
                    sock.settimeout(remaining)
                    chunk = sock.recv(16384)
                    if not chunk:
                        incoming.write_eof()
                    else:
                        first += chunk[: max(0, _FIRST_BYTES - len(first))]
                        incoming.write(chunk)
                    continue
                pending = outgoing.read()
                if pending:
                    sock.sendall(pending)
                peer = tls.getpeercert() if context.verify_mode != ssl.CERT_NONE else None
                return Handshake(bytes(first), None, tls.selected_alpn_protocol(), peer or None)
    except (ssl.SSLError, OSError) as exc:
        return Handshake(bytes(first), exc)


def _pairs(value: object) -> list[tuple[object, object]]:
    """The ``(key, value)`` pairs of a parsed certificate's field (a tuple of pairs)."""
    if not isinstance(value, tuple):
        return []
    return [(item[0], item[1]) for item in value if isinstance(item, tuple) and len(item) == 2]


def _names(peer: PeerCert | None) -> list[str]:
    """The DNS names and IP addresses a parsed certificate covers (subjectAltName, else CN)."""
    if not peer:
        return []
    names = [str(v) for k, v in _pairs(peer.get("subjectAltName")) if k in ("DNS", "IP Address")]
    if not names:
        subject = peer.get("subject")
        for rdn in subject if isinstance(subject, tuple) else ():
            names += [str(v) for k, v in _pairs(rdn) if k == "commonName"]
    return names


def _peer_ignoring(
    endpoint: Endpoint, ca_cert: bytes | None, timeout: float, *, ignore_dates: bool
) -> PeerCert | None:
    """The server's certificate, verified against the same trust but without the hostname check
    (and without the validity dates when ``ignore_dates``): to say which names or dates it carries."""
    context = client_context(ca_cert)
    context.check_hostname = False
    if ignore_dates:
        context.verify_flags |= _X509_V_FLAG_NO_CHECK_TIME
    return handshake(endpoint, context, timeout).peer


def classify_verify_error(
    exc: ssl.SSLCertVerificationError, endpoint: Endpoint, ca_cert: bytes | None, timeout: float
) -> Finding:
    """One accurate line per kind of certificate failure, by OpenSSL's verify code."""
    code = exc.verify_code
    trust = "the CA in --ca-cert" if ca_cert is not None else "gRPC's default trusted roots"
    wrong_ca = "check that --ca-cert holds the CA that signed the server's certificate"
    if code in NAME_MISMATCH:
        names = _names(_peer_ignoring(endpoint, ca_cert, timeout, ignore_dates=False))
        covers = f"it covers {', '.join(names)} only" if names else "it names other hosts"
        return Finding(
            "tls",
            False,
            f"the server's certificate is not valid for {endpoint.host}: {covers}",
            "use --endpoint with a name the certificate covers, or have the certificate reissued",
            final=True,
        )
    if code in EXPIRED:
        peer = _peer_ignoring(endpoint, ca_cert, timeout, ignore_dates=True) or {}
        if code == _V_ERR_CERT_HAS_EXPIRED:
            when = f" on {peer['notAfter']}" if "notAfter" in peer else ""
            detail = f"the server's certificate expired{when}"
        else:
            when = f" until {peer['notBefore']}" if "notBefore" in peer else ""
            detail = f"the server's certificate is not valid yet{when}"
        return Finding(
            "tls",
            False,
            detail,
            "the server must renew it; if the dates look right, check this machine's clock",
            final=True,
        )
    if code in SELF_SIGNED:
        return Finding(
            "tls",
            False,
            f"the server's certificate is self-signed and not trusted by {trust}",
            wrong_ca
            if ca_cert is not None
            else "if you trust this server, pass --ca-cert with its PEM certificate",
            final=True,
        )
    if code in UNKNOWN_ISSUER:
        return Finding(
            "tls",
            False,
            f"the server's certificate is signed by a CA not trusted by {trust}",
            wrong_ca
            if ca_cert is not None
            else "for a private CA, pass --ca-cert with that CA's PEM certificate",
            final=True,
        )
    return Finding(
        "tls",
        False,
        f"the server's certificate failed verification: {exc.verify_message}, code {code}",
        "check --ca-cert and the server's certificate chain",
        final=True,
    )


def check_tls(endpoint: Endpoint, ca_cert: bytes | None, timeout: float) -> Finding:
    """TLS as gRPC does it: trust, SNI, hostname check, ALPN h2."""
    try:
        context = client_context(ca_cert)
    except (ssl.SSLError, ValueError):
        return Finding(
            "tls", False, "--ca-cert holds no usable PEM certificate", "check --ca-cert", final=True
        )
    result = handshake(endpoint, context, timeout)
    error = result.error
    if error is None:
        if result.alpn != "h2":
            return Finding(
                "tls",
                False,
                "the TLS handshake completed but the server did not agree to HTTP/2 (ALPN h2): "
                "it is not a gRPC endpoint",
                "check the host and port in --endpoint",
                final=True,
            )
        return Finding("tls", True, "handshake complete, certificate trusted, HTTP/2 agreed")
    if isinstance(error, ssl.SSLCertVerificationError):
        return classify_verify_error(error, endpoint, ca_cert, timeout)
    if result.first and not is_tls_record(result.first):
        if is_http2_frame(result.first):
            what = "the server speaks plaintext HTTP/2, gRPC without TLS"
        else:
            what = f"the server does not speak TLS, it sent {_shown(result.first)}"
        return Finding(
            "tls",
            False,
            f"no TLS handshake: {what}",
            "use --insecure only for a local or trusted server",
            final=True,
        )
    if isinstance(error, TimeoutError):
        return Finding("tls", False, f"no TLS answer within {timeout:g} s", "retry or raise --timeout")
    if not result.first:
        return Finding(
            "tls",
            False,
            "the server closed the connection before any TLS answer",
            "the server may be restarting or overloaded; retry",
        )
    # the server answered in TLS but refused the handshake (an alert: no common protocol or cipher,
    # a client certificate required, ...): retrying the same handshake cannot help
    reason = getattr(error, "reason", None) or type(error).__name__
    return Finding(
        "tls",
        False,
        f"the server refused the TLS handshake: {reason}",
        "check --endpoint; the server may need a newer TLS version or a client certificate",
        final=True,
    )


def check_plaintext(endpoint: Endpoint, timeout: float) -> Finding:
    """--insecure: send the HTTP/2 preface and see what answers. A plaintext gRPC server sends a
    SETTINGS frame; a TLS server sends an alert or closes, and answers a TLS ClientHello."""
    first = bytearray()
    error: OSError | None = None
    try:
        with socket.create_connection((_host(endpoint), endpoint.port), timeout=timeout) as sock:
            sock.sendall(H2_PREFACE)
            while len(first) < _H2_FRAME_HEADER:
                chunk = sock.recv(_FIRST_BYTES)
                if not chunk:
                    break
                first += chunk
    except OSError as exc:
        error = exc
    data = bytes(first)
    if is_http2_frame(data):
        return Finding("plaintext", True, "--insecure: the server speaks plaintext HTTP/2")
    tls_server = is_tls_record(data)
    if not tls_server:
        probe = handshake(endpoint, client_context(None, verify=False), timeout)
        tls_server = is_tls_record(probe.first)
    if tls_server:
        return Finding(
            "plaintext",
            False,
            "--insecure, but the server speaks TLS",
            "drop --insecure; for a private CA add --ca-cert PEM",
            final=True,
        )
    if data:
        return Finding(
            "plaintext",
            False,
            f"the server does not speak HTTP/2, it answered {_shown(data)}: not a gRPC endpoint",
            "check the host and port in --endpoint",
            final=True,
        )
    if isinstance(error, TimeoutError):
        return Finding("plaintext", False, f"no answer within {timeout:g} s", "retry or raise --timeout")
    return Finding(
        "plaintext",
        False,
        "the server closed the connection without answering",
        "the server may be restarting or overloaded; retry",
    )


def probe(endpoint: Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float) -> list[Finding]:
    """Run the checks in order (resolve, TCP, TLS or plaintext); stop at the first failure."""
    found = [resolve(endpoint)]
    if not found[-1].ok:
        return found
    found.append(connect(endpoint, found[0].addresses, timeout))
    if not found[-1].ok:
        return found
    found.append(check_plaintext(endpoint, timeout) if insecure else check_tls(endpoint, ca_cert, timeout))
    return found
