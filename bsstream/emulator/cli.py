"""``bsstream serve``: run the local emulator until Ctrl-C or SIGTERM.

Also runnable on its own: ``python -m bsstream.emulator.cli --port 50051``.
"""

from __future__ import annotations

import signal
import socket
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from bsstream.helptext import GroupedCommand
from bsstream.redact import write_message
from bsstream.status import ExitStatus

if TYPE_CHECKING:  # grpc loads only when the server starts (``--help`` stays light)
    from bsstream.emulator.server import Emulator, Faults

SERVE_KEY_ENV = "BSSTREAM_SERVE_API_KEY"
# the server's DEFAULT_IDLE_SECONDS and DEFAULT_MAX_CALLS (repeated so --help needs no grpc import)
IDLE_TIMEOUT_DEFAULT = 30.0
MAX_CALLS_DEFAULT = 256

# grpc.StatusCode names other than OK (spelled out so --help needs no grpc import)
_CODES = (
    "ABORTED", "ALREADY_EXISTS", "CANCELLED", "DATA_LOSS", "DEADLINE_EXCEEDED", "FAILED_PRECONDITION",
    "INTERNAL", "INVALID_ARGUMENT", "NOT_FOUND", "OUT_OF_RANGE", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "UNAUTHENTICATED", "UNAVAILABLE", "UNIMPLEMENTED", "UNKNOWN",
)  # fmt: skip


def _say(line: str) -> None:
    """A line on stderr through bsstream's one writer (secrets masked, one line)."""
    write_message(sys.stderr, line)


def _fail(message: str, status: ExitStatus) -> NoReturn:
    _say(f"bsstream serve: error: {message}")
    sys.exit(int(status))


def _read_pem(path: Path, what: str, marker: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read the TLS {what} {path}: {exc.strerror or exc}", ExitStatus.USAGE)
    if b"-----BEGIN" not in data or marker.encode() not in data:
        _fail(f"the TLS {what} {path} is not a PEM {marker.lower()}", ExitStatus.USAGE)
    return data


def _check_pair(cert: Path, key: Path) -> None:
    """Let the standard library parse the pair first, so gRPC never sees bad TLS material."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or "not valid PEM"
        _fail(f"the TLS certificate {cert} and key {key} are not a usable pair ({reason})", ExitStatus.USAGE)


def _check_port(host: str, port: int) -> None:
    """Bind a plain socket first, so a taken port is one clear line (gRPC would also log to stderr)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(infos[0][4])
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ExitStatus.CONNECTION)


def _is_loopback(host: str) -> bool:
    from bsstream.settings import Endpoint

    return Endpoint(host.strip("[]"), 1).is_loopback


@click.command("serve", cls=GroupedCommand)  # examples, option groups: bsstream/helptext.py
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=50051,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--cid",
    type=click.IntRange(min=1),
    default=None,
    help="Accept only this project id (default: any non-zero cid).",
)
@click.option(
    "--api-key",
    default=None,
    metavar="KEY",
    envvar=SERVE_KEY_ENV,
    show_envvar=True,
    help="Accept only this API key (default: any non-empty key). Prefer the environment variable:"
    " a flag is visible to other users in `ps`.",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM certificate chain: serve TLS instead of plaintext.",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM private key for --tls-cert.",
)
@click.option(
    "--abort-after",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Fault: abort each call with --abort-code after N audio messages.",
)
@click.option(
    "--abort-code",
    type=click.Choice(_CODES, case_sensitive=False),
    default="UNAVAILABLE",
    show_default=True,
    metavar="CODE",
    help="Fault: the status code --abort-after uses, a gRPC status name (unavailable, internal, "
    "resource_exhausted, ...).",
)
@click.option(
    "--delay-ms",
    type=click.IntRange(min=0),
    default=0,
    metavar="D",
    help="Fault: delay each response message by D milliseconds.",
)
@click.option(
    "--hang-after",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Fault: after N audio messages stop reading and responding until the client cancels.",
)
@click.option(
    "--refuse-first",
    type=click.IntRange(min=0),
    default=0,
    metavar="K",
    help="Fault: the first K calls fail at once with UNAVAILABLE.",
)
@click.option(
    "--close-early-after",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Fault: end each call OK after N audio messages without flushing results.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0),
    default=IDLE_TIMEOUT_DEFAULT,
    show_default=True,
    metavar="SECONDS",
    help="End a call that sends no message for this long, with DEADLINE_EXCEEDED (0: no limit).",
)
@click.option(
    "--max-calls",
    type=click.IntRange(min=1),
    default=MAX_CALLS_DEFAULT,
    show_default=True,
    metavar="N",
    help="Calls served at once; one more is refused at once with RESOURCE_EXHAUSTED.",
)
def serve_command(
    host: str,
    port: int,
    cid: int | None,
    api_key: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    abort_after: int | None,
    abort_code: str,
    delay_ms: int,
    hang_after: int | None,
    refuse_first: int,
    close_early_after: int | None,
    idle_timeout: float,
    max_calls: int,
) -> None:
    """Run the local emulator of the streaming API (heuristic results, not Behavioral Signals models)."""
    if (tls_cert is None) != (tls_key is None):
        _fail("--tls-cert and --tls-key go together", ExitStatus.USAGE)
    if api_key is not None and not api_key.strip():
        _fail("--api-key must not be empty", ExitStatus.USAGE)
    from bsstream.emulator.server import Emulator, EmulatorError, Faults

    cert, key = _tls_material(tls_cert, tls_key)
    faults = Faults(
        abort_after=abort_after,
        abort_code=abort_code.upper(),
        delay_ms=delay_ms,
        hang_after=hang_after,
        refuse_first=refuse_first,
        close_early_after=close_early_after,
    )
    _check_port(host, port)
    emulator = Emulator(
        host,
        port,
        cid=cid,
        api_key=api_key,
        faults=faults,
        tls_cert=cert,
        tls_key=key,
        idle_timeout=idle_timeout or None,
        max_calls=max_calls,
    )
    try:
        emulator.start()
    except EmulatorError as exc:
        _fail(str(exc), ExitStatus.USAGE if exc.kind == "tls" else ExitStatus.CONNECTION)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C and SIGTERM both just set the event: a KeyboardInterrupt raised wherever the main
    # thread happens to be (say, inside a lock's bookkeeping) could escape the stop path
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _announce(emulator, faults, host, api_key)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop(grace=1.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _say("stopped")


def _tls_material(tls_cert: Path | None, tls_key: Path | None) -> tuple[bytes | None, bytes | None]:
    """The PEM bytes of ``--tls-cert`` and ``--tls-key`` (both None without TLS), checked to be a
    usable pair; anything wrong ends the command with a usage error."""
    if tls_cert is None or tls_key is None:
        return None, None
    cert = _read_pem(tls_cert, "certificate", "CERTIFICATE")
    key = _read_pem(tls_key, "key", "PRIVATE KEY")
    _check_pair(tls_cert, tls_key)
    return cert, key


def _announce(emulator: Emulator, faults: Faults, host: str, api_key: str | None) -> None:
    """The address on stdout; what it is, its limits, its faults and an open-listener warning on
    stderr."""
    click.echo(f"listening on {emulator.address} ({'TLS' if emulator.tls else 'plaintext'})")
    sys.stdout.flush()
    _say("bsstream emulator: results are heuristics, not Behavioral Signals models")
    _say(f"bsstream emulator: limits: {emulator.describe_limits()}")
    for line in faults.describe():
        _say(f"bsstream emulator: fault: {line}")
    if api_key is None and not _is_loopback(host):
        _say(
            f"bsstream emulator: warning: listening on {emulator.address}, beyond loopback, without"
            f" an API key: anyone who can reach it can stream to it (set {SERVE_KEY_ENV} or --api-key)"
        )


def main() -> None:
    serve_command(prog_name="bsstream serve")


if __name__ == "__main__":
    main()
