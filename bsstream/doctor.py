"""``bsstream doctor``: why does streaming not work? One line per step, a tick or a cross and
the fix; the exit code is the first failing step's.

Steps: resolve the endpoint, open TCP, complete the TLS handshake (or find the server speaks
plaintext), then stream a config and one second of silence with the configured credentials.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from bsstream.settings import Credentials, Endpoint
from bsstream.status import ExitStatus, error_for_grpc

TICK, CROSS = "✓", "✗"


@dataclass(frozen=True, slots=True)
class Step:
    ok: bool
    name: str
    detail: str
    fix: str = ""
    status: ExitStatus = ExitStatus.SUCCESS

    def line(self) -> str:
        mark = TICK if self.ok else CROSS
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text} — {self.fix}" if self.fix and not self.ok else text


def check_resolve(endpoint: Endpoint) -> tuple[Step, list[tuple[str, int]]]:
    try:
        infos = socket.getaddrinfo(endpoint.host.strip("[]"), endpoint.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        return (
            Step(
                False,
                "resolve",
                f"{endpoint.host} does not resolve ({reason})",
                "check the host name in --endpoint / BS_ENDPOINT",
                ExitStatus.CONNECTION,
            ),
            [],
        )
    addresses = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            addresses.append((str(sockaddr[0]), int(sockaddr[1])))
    shown = ", ".join(sorted({a for a, _ in addresses}))
    return Step(True, "resolve", f"{endpoint.host} -> {shown}"), addresses


def check_tcp(endpoint: Endpoint, addresses: list[tuple[str, int]], timeout: float) -> Step:
    last = "no address"
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return Step(True, "tcp", f"connected to {host}:{port}")
        except OSError as exc:
            last = exc.strerror or str(exc)
    return Step(
        False,
        "tcp",
        f"cannot connect to {endpoint.target} ({last})",
        "check the port and that the server is up; a firewall may block it",
        ExitStatus.CONNECTION,
    )


def _tls_handshake(endpoint: Endpoint, ca_cert: bytes | None, timeout: float, verify: bool) -> str | None:
    """None when a TLS handshake completes, else the reason it failed."""
    context = ssl.create_default_context(cadata=ca_cert.decode() if ca_cert else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((endpoint.host.strip("[]"), endpoint.port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host.strip("[]")),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return f"certificate not trusted ({exc.verify_message})"
    except (ssl.SSLError, OSError) as exc:
        return str(getattr(exc, "reason", None) or exc.strerror or exc)


def check_tls(endpoint: Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float) -> Step:
    if insecure:
        reason = _tls_handshake(endpoint, None, timeout, verify=False)
        if reason is None:
            return Step(
                False,
                "tls",
                "--insecure, but the server speaks TLS",
                "drop --insecure (add --ca-cert for a private CA)",
                ExitStatus.CONNECTION,
            )
        return Step(True, "tls", "plaintext (--insecure): the server speaks plaintext")
    reason = _tls_handshake(endpoint, ca_cert, timeout, verify=True)
    if reason is None:
        return Step(True, "tls", "handshake complete, certificate trusted")
    if "certificate not trusted" in reason:
        return Step(False, "tls", reason, "pass --ca-cert PEM for a private CA", ExitStatus.CONNECTION)
    if _tls_handshake(endpoint, None, timeout, verify=False) is not None:
        return Step(
            False,
            "tls",
            f"no TLS handshake ({reason}): the server speaks plaintext",
            "use --insecure for a plaintext server (e.g. bsstream serve)",
            ExitStatus.CONNECTION,
        )
    return Step(
        False,
        "tls",
        f"handshake failed ({reason})",
        "check --ca-cert and the endpoint",
        ExitStatus.CONNECTION,
    )


def check_stream(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    insecure: bool,
    ca_cert: bytes | None,
    timeout: float,
    method: str = "StreamAudio",
) -> Step:
    from bsstream.protocol.messages import BYTES_PER_SECOND, build_config, request_messages
    from bsstream.transport import CallFailed, Transport

    silence = [b"\x00" * (BYTES_PER_SECOND // 4)] * 4
    requests = request_messages(credentials.cid, credentials.api_key, build_config(), silence)
    started = time.monotonic()
    with Transport(endpoint, insecure=insecure, ca_cert=ca_cert) as transport:
        call = transport.start(method, requests)
        import threading

        timer = threading.Timer(timeout, call.cancel)
        timer.daemon = True
        timer.start()
        try:
            messages = sum(1 for _ in call)
        except CallFailed as failure:
            if failure.code == "CANCELLED" and time.monotonic() - started >= timeout:
                return Step(
                    False,
                    "stream",
                    f"no answer within {timeout:g} s",
                    "the server accepted the call but never closed it",
                    ExitStatus.CONNECTION,
                )
            err = error_for_grpc(failure.code, failure.details)
            return Step(False, "stream", err.message, err.hint or "", err.exit_status)
        finally:
            timer.cancel()
        emulated = " (the local emulator)" if call.is_emulated() else ""
    return Step(
        True,
        "stream",
        f"config + 1 s of silence accepted by {method}{emulated}; "
        f"{messages} messages back in {time.monotonic() - started:.2f} s",
    )


def run_doctor(
    endpoint: Endpoint,
    credentials: Credentials | None,
    *,
    insecure: bool,
    ca_cert: bytes | None,
    out: IO[str],
    timeout: float = 10.0,
    credentials_error: Callable[[], Step] | None = None,
) -> int:
    """Run the steps in order, print each, stop at the first failure; return its exit status."""

    def report(step: Step) -> bool:
        out.write(step.line() + "\n")
        out.flush()
        return step.ok

    resolved, addresses = check_resolve(endpoint)
    steps: list[Callable[[], Step]] = [
        lambda: check_tcp(endpoint, addresses, timeout),
        lambda: check_tls(endpoint, insecure=insecure, ca_cert=ca_cert, timeout=timeout),
    ]
    if credentials is None:
        assert credentials_error is not None
        steps.append(credentials_error)
    else:
        steps.append(lambda: Step(True, "credentials", f"cid {credentials.cid}, API key set (hidden)"))
        steps.append(
            lambda: check_stream(endpoint, credentials, insecure=insecure, ca_cert=ca_cert, timeout=timeout)
        )
    if not report(resolved):
        return resolved.status
    for make in steps:
        step = make()
        if not report(step):
            return step.status
    return ExitStatus.SUCCESS
