"""``bsstream doctor``: why does streaming not work? One line per step, a tick or a cross and
the fix; the exit code is the first failing step's.

Steps: resolve the endpoint, open TCP, complete the TLS handshake (or find the server speaks
plaintext HTTP/2) — the checks of bsstream/netcheck.py, which the session's diagnosis shares —
then stream a config and one second of silence with the configured credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from bsstream import netcheck
from bsstream.netcheck import Finding
from bsstream.protocol.methods import Method
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


def _step(finding: Finding) -> Step:
    """A netcheck finding as a doctor line; every network check that fails exits 5."""
    name = "tls" if finding.check == "plaintext" else finding.check
    status = ExitStatus.SUCCESS if finding.ok else ExitStatus.CONNECTION
    return Step(finding.ok, name, finding.detail, finding.fix, status)


def check_resolve(endpoint: Endpoint) -> tuple[Step, tuple[tuple[str, int], ...]]:
    finding = netcheck.resolve(endpoint)
    return _step(finding), finding.addresses


def check_tcp(endpoint: Endpoint, addresses: tuple[tuple[str, int], ...], timeout: float) -> Step:
    return _step(netcheck.connect(endpoint, addresses, timeout))


def check_tls(endpoint: Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float) -> Step:
    """TLS as gRPC does it (trust, SNI, hostname, ALPN), or with --insecure that the server
    speaks plaintext HTTP/2."""
    if insecure:
        return _step(netcheck.check_plaintext(endpoint, timeout))
    return _step(netcheck.check_tls(endpoint, ca_cert, timeout))


def check_stream(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    insecure: bool,
    ca_cert: bytes | None,
    timeout: float,
    method: str = Method.ANALYZE.value,
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
