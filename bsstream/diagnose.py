"""Why a connection failed, from facts we establish ourselves (DNS lookup, TCP connect, our own
TLS handshake), never from the wording of another program's error text.

Called by the session when an attempt fails with a transient code before any call of the stream
ever succeeded: the answer decides between "retry" (None) and a final, accurate error. The checks
are the ones ``bsstream doctor`` runs (bsstream/netcheck.py).

- the host does not resolve (the name does not exist): final;
- TCP refused, unreachable or timed out: retry (the server may be starting); ``explain`` still
  gives the line for the user when the retries run out;
- TLS: the certificate is for other names, signed by an unknown CA, self-signed, expired; the
  server speaks plaintext; the server refused the handshake: final;
- ``--insecure`` and the server speaks TLS, or it does not speak HTTP/2 at all: final.

Every final error is a ``ConnectionFailure`` (exit 5): the exit code is decided by which check
failed, never by message text.
"""

from __future__ import annotations

from bsstream.netcheck import Finding, probe
from bsstream.settings import Endpoint, parse_endpoint
from bsstream.status import BsError, ConnectionFailure


def explain(
    endpoint: str | Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float
) -> Finding | None:
    """The first check that fails (retryable or not), or None when every check passes."""
    target = parse_endpoint(endpoint) if isinstance(endpoint, str) else endpoint
    failed = [f for f in probe(target, insecure=insecure, ca_cert=ca_cert, timeout=timeout) if not f.ok]
    return failed[0] if failed else None


def diagnose(
    endpoint: str | Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float
) -> BsError | None:
    """A final error when the facts show retrying cannot help (host does not resolve, TLS
    verification fails, plaintext/TLS mismatch); None when a retry may succeed."""
    return examine(endpoint, insecure=insecure, ca_cert=ca_cert, timeout=timeout)[0]


def hint(endpoint: str | Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float) -> str | None:
    """A line for the user after the retries ran out: what the checks see now (e.g. "cannot
    connect to HOST:PORT (connection refused: nothing listens there) — check the port ...")."""
    return _said(explain(endpoint, insecure=insecure, ca_cert=ca_cert, timeout=timeout))


def examine(
    endpoint: str | Endpoint, *, insecure: bool, ca_cert: bytes | None, timeout: float
) -> tuple[BsError | None, str | None]:
    """One round of checks, both answers: :func:`diagnose`'s final error (None: a retry may
    succeed) and :func:`hint`'s line (None: every check passes)."""
    finding = explain(endpoint, insecure=insecure, ca_cert=ca_cert, timeout=timeout)
    final = ConnectionFailure(finding.detail, hint=finding.fix or None) if finding and finding.final else None
    return final, _said(finding)


def _said(finding: Finding | None) -> str | None:
    if finding is None:
        return None
    return f"{finding.detail}; {finding.fix}" if finding.fix else finding.detail
