"""Why a connection failed, from facts we establish ourselves (DNS lookup, TCP connect, our own
TLS handshake), never from the wording of another program's error text.

Called by the session when an attempt fails with a transient code before any call of the stream
ever succeeded: the answer decides between "retry" (None) and a final, accurate error.
"""

from __future__ import annotations

from bsstream.status import BsError


def diagnose(endpoint: str, *, insecure: bool, ca_cert: bytes | None, timeout: float) -> BsError | None:
    """A final error when the facts show retrying cannot help (host does not resolve, TLS
    verification fails, plaintext/TLS mismatch); None when a retry may succeed."""
    return None
