"""The command line: options -> one RunConfig; wiring only. Heavy modules are imported lazily
so ``bsstream --help`` starts fast. ``main`` is the one place exceptions become exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bsstream import __version__
from bsstream.redact import redact, register_secret
from bsstream.settings import DEFAULT_ENDPOINT, DEFAULT_RETRIES, DEFAULT_TIMEOUT
from bsstream.status import BsError, ExitStatus

F = TypeVar("F", bound=Callable[..., Any])

EXAMPLES = """
\b
Examples:
  bsstream analyze --local call.wav             # try it offline, no account needed
  bsstream analyze call.mp3                      # credentials from BS_CID / BS_API_KEY / .env
  bsstream deepfake call.wav --json | jq -r '.result[] | [.start_time, .final_label] | @tsv'
  ffmpeg -i call.m4a -f wav - | bsstream analyze -
"""

EXIT_CODES = """
\b
Exit codes: 0 ok, 1 service error, 2 usage, 3 auth/permission, 4 input/decoding,
5 connection/timeout, 10 a --fail-on rule matched, 130 interrupted.
"""


CONNECTION_OPTIONS = [
    click.option("--cid", envvar="BS_CID", metavar="INTEGER", help="Project id (env BS_CID, or .env)."),
    click.option("--api-key", envvar="BS_API_KEY", metavar="TEXT", help="API key (env BS_API_KEY, or .env)."),
    click.option(
        "--endpoint",
        envvar="BS_ENDPOINT",
        default=DEFAULT_ENDPOINT,
        show_default=True,
        metavar="HOST:PORT",
        help="Service address (env BS_ENDPOINT).",
    ),
    click.option("--insecure", is_flag=True, help="Plaintext instead of TLS (local servers)."),
    click.option(
        "--ca-cert",
        type=click.Path(dir_okay=False, path_type=Path),
        help="PEM file of a private CA to trust instead of the system roots.",
    ),
    click.option("--local", is_flag=True, help="Stream to the built-in emulator (offline, no credentials)."),
]


def connection_options(func: F) -> F:
    """Credentials and endpoint: the options of every command that talks to the service."""
    for option in reversed(CONNECTION_OPTIONS):
        func = option(func)
    return func


def stream_options(func: F) -> F:
    """The options analyze and deepfake share (exact names from the product's issue)."""
    options = [
        click.argument("inputs", nargs=-1, required=True, metavar="INPUT..."),
        click.option(
            "--chunk-ms",
            type=click.IntRange(100, 500),
            default=250,
            show_default=True,
            help="Audio per message, in milliseconds (100-500).",
        ),
        click.option(
            "--level",
            type=click.Choice(["segment", "utterance", "all"]),
            default="all",
            show_default=True,
            help="Result level; 'all' leaves it unset so the service sends both.",
        ),
        click.option("--realtime", is_flag=True, help="Send at 1x audio speed, like a live call."),
        click.option(
            "--json", "json_", is_flag=True, help="Newline-delimited JSON on stdout, one line per message."
        ),
        click.option("--logits", is_flag=True, help="Ask for logits beside posteriors."),
        click.option("--embeddings", is_flag=True, help="Ask for feature embeddings."),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_TIMEOUT,
            show_default=True,
            metavar="SECONDS",
            help="Give up when the server neither sends nor accepts anything for this long.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0),
            default=DEFAULT_RETRIES,
            show_default=True,
            help="Reconnect and resume this many times after a transient failure (0: never).",
        ),
        click.option("--backoff-base", type=click.FloatRange(min=0), default=0.5, hidden=True),
        click.option(
            "--stats", is_flag=True, help="Print audio/wall seconds, real-time factor, latency p50/p95."
        ),
        click.option(
            "--output",
            "outputs",
            multiple=True,
            metavar="FILE",
            help="Also write results to FILE (.jsonl .json .csv .srt .vtt .html); repeatable.",
        ),
        click.option(
            "--jobs",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Stream this many inputs at once (over one connection).",
        ),
        click.option(
            "--output-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="One JSON-lines file per input in DIR, written atomically, ending in a completion marker.",
        ),
        click.option(
            "--skip-done", is_flag=True, help="With --output-dir: skip inputs whose output is complete."
        ),
        click.option(
            "--shard", metavar="K/N", help="Process only the K-th of N stable shares of the inputs."
        ),
        click.option(
            "--fail-on",
            "fail_on",
            multiple=True,
            metavar="EXPR",
            help="Exit 10 if a result matches TASK=LABEL>=THRESHOLD[@LEVEL]; repeatable.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress display and no end-of-run table."),
        click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return connection_options(func)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXAMPLES + EXIT_CODES,
)
@click.version_option(__version__, "--version", prog_name="bsstream")
def cli() -> None:
    """Stream audio to the Behavioral Signals streaming API and watch the results arrive."""


def _cid_value(raw: str | None) -> int | None:
    """--cid / BS_CID as an integer; a non-number is a usage error naming where it came from."""
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw.strip())
    except ValueError:
        from_env = (
            click.get_current_context().get_parameter_source("cid") == click.core.ParameterSource.ENVIRONMENT
        )
        where = "BS_CID" if from_env else "--cid"
        raise click.UsageError(f"{where} must be an integer project id, got {raw!r}") from None


def _run(method: str, inputs: tuple[str, ...], **kw: Any) -> int:
    from bsstream.app import RunConfig, default_streams, run_streams
    from bsstream.settings import Credentials, parse_endpoint, resolve_credentials

    register_secret(kw["api_key"])
    cid = _cid_value(kw["cid"])
    if kw["local"]:
        credentials = Credentials(cid or 1, kw["api_key"] or "local-emulator")
    else:
        credentials = resolve_credentials(cid, kw["api_key"])
    register_secret(credentials.api_key)
    endpoint = parse_endpoint(kw["endpoint"])
    run = RunConfig(
        method=method,
        inputs=list(inputs),
        credentials=credentials,
        endpoint=endpoint,
        insecure=kw["insecure"],
        ca_cert=kw["ca_cert"],
        local=kw["local"],
        chunk_ms=kw["chunk_ms"],
        level=kw["level"],
        realtime=kw["realtime"],
        json=kw["json_"],
        logits=kw["logits"],
        embeddings=kw["embeddings"],
        timeout=kw["timeout"],
        retries=kw["retries"],
        backoff_base=kw["backoff_base"],
        stats=kw["stats"],
        outputs=list(kw["outputs"]),
        jobs=kw["jobs"],
        output_dir=kw["output_dir"],
        skip_done=kw["skip_done"],
        shard=kw["shard"],
        fail_on=list(kw["fail_on"]),
        quiet=kw["quiet"],
    )
    return run_streams(run, default_streams())


@cli.command(epilog=EXAMPLES + EXIT_CODES)
@stream_options
def analyze(inputs: tuple[str, ...], **kw: Any) -> int:
    """Behavioral analysis (StreamAudio): emotion, gender, age, strength, positivity, ...

    INPUT is an audio or video file, a directory, a glob, or - for stdin.
    """
    return _run("StreamAudio", inputs, **kw)


@cli.command(epilog=EXAMPLES + EXIT_CODES)
@stream_options
def deepfake(inputs: tuple[str, ...], **kw: Any) -> int:
    """Deepfake detection (DeepfakeDetection): is it a real voice?

    INPUT is an audio or video file, a directory, a glob, or - for stdin.
    """
    return _run("DeepfakeDetection", inputs, **kw)


@cli.command(epilog=EXIT_CODES)
@connection_options
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Per step.",
)
def doctor(
    cid: str | None,
    api_key: str | None,
    endpoint: str,
    insecure: bool,
    ca_cert: Path | None,
    local: bool,
    timeout: float,
) -> int:
    """Find out why streaming does not work: DNS, TCP, TLS, credentials, one short stream."""
    import contextlib

    from bsstream.doctor import Step, run_doctor
    from bsstream.settings import Credentials, parse_endpoint, resolve_credentials
    from bsstream.status import UsageError

    register_secret(api_key)
    cid_value = _cid_value(cid)
    credentials: Credentials | None = None
    problem: UsageError | None = None
    with contextlib.ExitStack() as stack:
        if local:
            from bsstream.emulator.server import Emulator

            emulator = stack.enter_context(Emulator())
            target = parse_endpoint(emulator.address)
            insecure = True
            credentials = Credentials(cid_value or 1, api_key or "local-emulator")
        else:
            target = parse_endpoint(endpoint)
            try:
                credentials = resolve_credentials(cid_value, api_key)
            except UsageError as exc:
                problem = exc
        if credentials is not None:
            register_secret(credentials.api_key)
        pem = None
        if ca_cert is not None:
            try:
                pem = ca_cert.read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read --ca-cert {ca_cert}: {exc.strerror}") from None

        def credentials_error() -> Step:
            assert problem is not None
            return Step(False, "credentials", problem.message, problem.hint or "", problem.exit_status)

        return run_doctor(
            target,
            credentials,
            insecure=insecure,
            ca_cert=pem,
            out=sys.stdout,
            timeout=timeout,
            credentials_error=credentials_error,
        )


@cli.command(epilog=EXAMPLES + EXIT_CODES)
@stream_options
def scan(inputs: tuple[str, ...], **kw: Any) -> int:
    """Both analyses in one pass: each input is decoded once and streamed to StreamAudio and
    DeepfakeDetection at the same time; one merged timeline, JSON lines carry "method".

    INPUT is an audio or video file, a directory, a glob, or - for stdin.
    """
    return _run("scan", inputs, **kw)


def _register_optional_commands() -> None:
    """Commands that live in their own modules (imported lazily: they are cheap to define)."""
    from bsstream.emulator.cli import serve_command
    from bsstream.replay import replay_command

    cli.add_command(serve_command, "serve")
    cli.add_command(replay_command, "replay")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every exception into one stderr line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    # gRPC's C core logs to stderr on its own (handshake failures, ...): our one line says it
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR" if debug else "NONE")
    _utf8_stdout()
    try:
        _register_optional_commands()
        result = cli.main(args=args, prog_name="bsstream", standalone_mode=False)
    except click.exceptions.Abort:
        return ExitStatus.INTERRUPTED
    except click.ClickException as exc:
        _stderr_line(_click_error(exc))
        return ExitStatus.USAGE if exc.exit_code == 2 else exc.exit_code
    except BsError as exc:
        _stderr_line(f"error: {exc.line()}")
        return exc.exit_status
    except KeyboardInterrupt:
        _stderr_line("interrupted")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as exc:
        from bsstream.render import OutputClosed

        if isinstance(exc, OutputClosed):
            return _quiet_broken_pipe()
        if debug:
            _stderr_line(traceback.format_exc())
        _stderr_line(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)")
        return ExitStatus.SERVICE_ERROR
    return int(result or 0)


def _utf8_stdout() -> None:
    """JSON lines and labels are UTF-8 whatever the locale says."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    if encoding != "utf8" and hasattr(sys.stdout, "reconfigure"):
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.reconfigure(encoding="utf-8")


def _click_error(exc: click.ClickException) -> str:
    """One line: the problem, then where to look for help."""
    line = f"error: {exc.format_message()}"
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        line += f" (see '{ctx.command_path} --help')"
    return " ".join(line.split())


def _stderr_line(line: str) -> None:
    try:
        sys.stderr.write(redact(line.rstrip("\n")) + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def _quiet_broken_pipe() -> int:
    """stdout was closed by the reader (e.g. ``| head``): end quietly."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return ExitStatus.SUCCESS


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
