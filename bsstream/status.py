"""Exit codes, the error classes that carry them, and the one mapping from gRPC status codes.

Pure: imports no grpc. gRPC status codes are mapped by name (``StatusCode.name``) so this
module stays importable by the core.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes. Documented in README.md ("Exit codes")."""

    SUCCESS = 0
    SERVICE_ERROR = 1
    USAGE = 2
    AUTH = 3
    INPUT = 4
    CONNECTION = 5
    OUTPUT = 6  # an output file or --output-dir could not be written (read-only, full, denied)
    FAIL_ON_MATCH = 10
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2, as a shell reports it
    TERMINATED = 143  # SIGTERM: 128 + 15


# Severity order used when several inputs end differently: the most severe one wins.
# A signal outranks everything (SIGTERM, then Ctrl-C), then errors that say the setup is wrong
# for every input (usage, auth), then connection, unwritable output (results received but lost), service and
# input failures, then a --fail-on match.
SEVERITY: tuple[ExitStatus, ...] = (
    ExitStatus.SUCCESS,
    ExitStatus.FAIL_ON_MATCH,
    ExitStatus.INPUT,
    ExitStatus.SERVICE_ERROR,
    ExitStatus.OUTPUT,
    ExitStatus.CONNECTION,
    ExitStatus.AUTH,
    ExitStatus.USAGE,
    ExitStatus.INTERRUPTED,
    ExitStatus.TERMINATED,
)

#: The statuses of a run or stream stopped by a signal (Ctrl-C, SIGTERM).
SIGNALLED: frozenset[int] = frozenset({ExitStatus.INTERRUPTED, ExitStatus.TERMINATED})


def most_severe(codes: list[ExitStatus] | tuple[ExitStatus, ...]) -> ExitStatus:
    """The most severe of several exit codes (SUCCESS for none)."""
    worst = ExitStatus.SUCCESS
    for code in codes:
        if SEVERITY.index(code) > SEVERITY.index(worst):
            worst = code
    return worst


class BsError(Exception):
    """An expected failure: one clear line for the user and the exit code it maps to."""

    exit_status: ExitStatus = ExitStatus.SERVICE_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    @property
    def status(self) -> ExitStatus:
        """The exit status the CLI ends with for this error."""
        return self.exit_status

    def line(self) -> str:
        """The one line shown to the user."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(BsError):
    exit_status = ExitStatus.USAGE


class AuthError(BsError):
    exit_status = ExitStatus.AUTH


class InputError(BsError):
    exit_status = ExitStatus.INPUT


class ConnectionFailure(BsError):
    exit_status = ExitStatus.CONNECTION


class OutputError(BsError):
    """An output could not be written: --output FILE, a file under --output-dir."""

    exit_status = ExitStatus.OUTPUT


class ServiceError(BsError):
    exit_status = ExitStatus.SERVICE_ERROR


class Interrupted(BsError):
    exit_status = ExitStatus.INTERRUPTED


# gRPC status code name -> (exit status, what to tell the user to do)
_GRPC_CODES: dict[str, tuple[ExitStatus, str]] = {
    "UNAUTHENTICATED": (ExitStatus.AUTH, "check --cid and --api-key (or BS_CID / BS_API_KEY)"),
    "PERMISSION_DENIED": (ExitStatus.AUTH, "the project may lack access to this API"),
    "UNAVAILABLE": (ExitStatus.CONNECTION, "check --endpoint and your network, then retry"),
    # bsstream sets no gRPC deadline (--timeout is its own watchdog, with its own line), so this
    # code is the server's: its limit on a call's length or on a pause in the audio
    "DEADLINE_EXCEEDED": (
        ExitStatus.CONNECTION,
        "the service ended the call at one of its time limits (a pause in live audio can reach one); retry",
    ),
    "INVALID_ARGUMENT": (ExitStatus.SERVICE_ERROR, "the service rejected the request"),
    "RESOURCE_EXHAUSTED": (ExitStatus.SERVICE_ERROR, "quota or rate limit reached; retry later"),
    "UNIMPLEMENTED": (ExitStatus.SERVICE_ERROR, "the endpoint does not serve this API; check --endpoint"),
    "CANCELLED": (ExitStatus.SERVICE_ERROR, "the call was cancelled"),
}

# Words of gRPC's details text that pick an optional hint (connection_hint). Only ever a hint:
# exit codes come from the status code, retries from the code and from bsstream.diagnose's facts.
_DNS_WORDS = ("dns resolution", "name resolution", "errors resolving", "lookup failed")


class RetryKind(IntEnum):
    """How a failed call may be retried (decided by status code, never by details text)."""

    NO = 0
    NOW = 1  # the connection went away: reconnect with the normal backoff
    SLOW = 2  # rate or concurrency limit (RESOURCE_EXHAUSTED): longer backoff, honour a hint


def retry_kind(code_name: str) -> RetryKind:
    """The retry policy for a gRPC status code name."""
    if code_name in ("UNAVAILABLE", "ABORTED"):
        return RetryKind.NOW
    if code_name == "RESOURCE_EXHAUSTED":
        return RetryKind.SLOW
    return RetryKind.NO


def is_transient(code_name: str, details: str = "") -> bool:
    """A failure worth reconnecting for now: the connection went away (UNAVAILABLE: refused,
    reset, keepalive timeout, GOAWAY; ABORTED). Decided by the status code alone; ``details`` is
    ignored. Whether a failure before any response is final (DNS, TLS, plaintext/TLS mismatch)
    is for ``bsstream.diagnose`` to establish from facts."""
    del details
    return retry_kind(code_name) is RetryKind.NOW


def connection_hint(details: str, *, insecure: bool) -> str | None:
    """An optional, more precise hint picked from gRPC's details text. Never decides an exit
    code or a retry; never suggests disabling verification for a certificate problem."""
    lowered = (details or "").lower()
    if any(word in lowered for word in _DNS_WORDS):
        return "the host name does not resolve; check --endpoint"
    if "wrong_version_number" in lowered:
        return (
            "the TLS handshake failed: the server may speak plaintext; "
            "use --insecure only for a local or trusted server"
        )
    if "certificate" in lowered or "verification" in lowered:
        return (
            "the server's certificate was not accepted; 'bsstream doctor' with the same options "
            "says why (--ca-cert for a private CA)"
        )
    if any(word in lowered for word in ("ssl", "tls", "handshake")):
        return "the TLS handshake failed; 'bsstream doctor' with the same options says why"
    if insecure and "socket closed" in lowered:
        return "the server closed a plaintext connection: it may require TLS (drop --insecure)"
    if "connection refused" in lowered:
        return "nothing answered at the endpoint; check --endpoint and that the server is up"
    return None


def error_for_grpc(code_name: str, details: str, *, source: str | None = None) -> BsError:
    """The BsError for a gRPC status (by code name) and its details text."""
    status, hint = _GRPC_CODES.get(code_name, (ExitStatus.SERVICE_ERROR, "the service reported an error"))
    where = f"{source}: " if source else ""
    detail = details.strip().splitlines()[0] if details and details.strip() else "no details"
    message = f"{where}{code_name}: {detail}"
    cls: type[BsError] = {
        ExitStatus.AUTH: AuthError,
        ExitStatus.CONNECTION: ConnectionFailure,
    }.get(status, ServiceError)
    return cls(message, hint=hint)
