"""The command line: options -> one RunConfig; wiring only. Heavy modules are imported lazily
so ``bsstream --help`` starts fast. ``main`` is the one place exceptions become exit codes."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from bsstream.audio.format import DEFAULT_CHUNK_MS, MAX_CHUNK_MS, MIN_CHUNK_MS
from bsstream.helptext import GroupedCommand, TopGroup, bare_usage
from bsstream.options import SUBTITLE_OPTIONS
from bsstream.protocol.methods import SCAN, Method
from bsstream.redact import register_secret, write_message
from bsstream.settings import (
    DEFAULT_ENDPOINT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_FOR,
    DEFAULT_TIMEOUT,
    Credentials,
    Endpoint,
)
from bsstream.status import BsError, ExitStatus, UsageError
from bsstream.version import __version__

if TYPE_CHECKING:
    from bsstream.app import RunConfig, Streams

T = TypeVar("T")
Command = Callable[..., int]  # a Click command's callback: Click passes its parameters by name

# Each command's examples, option groups and exit codes: bsstream/helptext.py


CONNECTION_OPTIONS = [
    click.option(
        "--cid",
        metavar="INTEGER",
        help="Project id (env BS_CID or BEHAVIORALSIGNALS_CID, or .env).",
    ),
    click.option(
        "--api-key",
        metavar="TEXT",
        help="API key (better: env BS_API_KEY or BEHAVIORALSIGNALS_API_KEY, .env, or --api-key-file;"
        " a flag is visible to other users in `ps`).",
    ),
    click.option(
        "--api-key-file",
        metavar="PATH",
        help="Read the API key from the first line of PATH ('-': standard input).",
    ),
    click.option(
        "--endpoint",
        default=None,
        metavar="HOST:PORT",
        help=f"Service address (env BS_ENDPOINT, or .env).  [default: {DEFAULT_ENDPOINT}]",
    ),
    click.option("--insecure", is_flag=True, help="Plaintext instead of TLS (local servers)."),
    click.option(
        "--ca-cert",
        type=click.Path(dir_okay=False, path_type=Path),
        help="PEM file of a private CA to trust instead of the default public roots.",
    ),
    click.option("--local", is_flag=True, help="Stream to the built-in emulator (offline, no credentials)."),
]


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionArgs:
    """The connection options as Click parsed them: each field is the parameter of the same
    name in CONNECTION_OPTIONS (filled by name, see :func:`_take`)."""

    cid: str | None = None
    api_key: str | None = None
    api_key_file: str | None = None
    endpoint: str | None = None
    insecure: bool = False
    ca_cert: Path | None = None
    local: bool = False


def _take(cls: Callable[..., T], params: dict[str, object], **given: object) -> T:
    """``cls`` (a dataclass) built from ``given`` and the Click parameters named like its fields,
    which are taken out of ``params``: an option is defined once, by its Click declaration, and
    carried by name into a typed field (a field without its option keeps its default)."""
    names = [f.name for f in dataclasses.fields(cls) if f.name in params]  # type: ignore[arg-type]
    return cls(**given, **{name: params.pop(name) for name in names})


def connection_options(func: Command) -> Command:
    """Credentials and endpoint: the options of every command that talks to the service,
    given to ``func`` as one :class:`ConnectionArgs` (keyword ``connection``)."""

    @functools.wraps(func)
    def command(**params: object) -> int:
        return func(connection=_take(ConnectionArgs, params), **params)

    for option in reversed(CONNECTION_OPTIONS):
        command = option(command)
    return command


def _duration_option(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """--retry-for DURATION as seconds; a malformed one is a usage error (exit 2)."""
    from bsstream.settings import parse_duration

    try:
        return parse_duration(value, where=f"--{param.name or ''}".replace("_", "-"))
    except UsageError as exc:
        raise click.BadParameter(exc.message.split(": ", 1)[-1]) from None


def stream_options(method: str) -> Callable[[Callable[[RunConfig], int]], Command]:
    """The options analyze, deepfake and scan share (exact names from the product's issue),
    given to the command as one typed :class:`~bsstream.app.RunConfig` for ``method``."""

    def decorate(func: Callable[[RunConfig], int]) -> Command:
        @functools.wraps(func)
        def command(connection: ConnectionArgs, **params: object) -> int:
            return func(_run_config(method, connection, params))

        for option in reversed(STREAM_OPTIONS):
            command = option(command)
        return connection_options(command)

    return decorate


# each becomes the RunConfig field (or the engine Options field) of its parameter's name
STREAM_OPTIONS = [
    click.argument("inputs", nargs=-1, required=False, metavar="INPUT..."),
    click.option(
        "--chunk-ms",
        type=click.IntRange(MIN_CHUNK_MS, MAX_CHUNK_MS),
        default=DEFAULT_CHUNK_MS,
        show_default=True,
        help=f"Audio per message, in milliseconds ({MIN_CHUNK_MS}-{MAX_CHUNK_MS}).",
    ),
    click.option(
        "--level",
        type=click.Choice(["segment", "utterance", "all"]),
        default="all",
        show_default=True,
        metavar="LEVEL",
        help="Result level: segment, utterance or all ('all' leaves it unset: the service sends both).",
    ),
    click.option("--realtime", is_flag=True, help="Send at 1x audio speed, like a live call."),
    click.option(
        "--raw",
        metavar="FORMAT[:RATE[:CH]]",
        help="Headerless input: s16le, mulaw, alaw or f32le, e.g. mulaw:8000:1 "
        "(mulaw/alaw: 8000 Hz by default).",
    ),
    click.option(
        "--sample-rate",
        type=click.IntRange(min=1),
        metavar="HZ",
        help="--raw's sample rate (or FORMAT:RATE).",
    ),
    click.option(
        "--raw-channels",
        type=click.IntRange(min=1),
        metavar="N",
        help="--raw's channel count (default 1).",
    ),
    click.option(
        "--channels",
        type=click.Choice(["mix", "split"]),
        default="mix",
        show_default=True,
        help="mix: one mono stream; split: each channel streamed as its own call, results tagged.",
    ),
    click.option("--channel-names", metavar="A,B,...", help="Names for split channels, e.g. agent,customer."),
    click.option(
        "--mic",
        "--device",
        "mic",
        is_flag=False,
        flag_value="default",
        default=None,
        metavar="[DEVICE]",
        help="Capture from a device (the default, or a name from 'bsstream devices'); "
        "same as INPUT mic:DEVICE.",
    ),
    click.option(
        "--duration",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Stop a capture (--mic) after this long (default: until Ctrl-C).",
    ),
    click.option("--json", is_flag=True, help="Newline-delimited JSON on stdout, one line per message."),
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
        "--retry-for",
        callback=_duration_option,
        default=f"{DEFAULT_RETRY_FOR:g}s",
        show_default=True,
        metavar="DURATION",
        help="After a connection failure, reconnect and resume for up to this long without "
        "progress (90, 90s, 2m; 0: never).",
    ),
    click.option(
        "--retries",
        type=click.IntRange(min=0),
        default=DEFAULT_RETRIES,
        metavar="N",
        help="Also stop after N reconnects per stream (0: never reconnect).",
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
    *SUBTITLE_OPTIONS,
    click.option(
        "--embed-audio/--no-embed-audio",
        "embed_audio",
        default=None,
        help="The .html report embeds the audio (Opus 24 kb/s mono) with a player "
        "[default: inputs up to 30 min].",
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
    click.option("--shard", metavar="K/N", help="Process only the K-th of N stable shares of the inputs."),
    click.option(
        "--fail-on",
        "fail_on",
        multiple=True,
        metavar="EXPR",
        help="Exit 10 if a result matches [CHANNEL:]TASK=LABEL>=THRESHOLD[@LEVEL]; repeatable.",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Progress display on stderr (a terminal). Default: on when stdout is a file or "
        "/dev/null, off when it is a pipe or the terminal.",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress display and no end-of-run table."),
    click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors."),
]


@click.group(
    cls=TopGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(__version__, "--version", prog_name="bsstream")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Stream audio to the Behavioral Signals streaming API and watch the results arrive."""
    if ctx.invoked_subcommand is None:  # bare `bsstream`: a short usage, not the whole help
        bare_usage(sys.stderr)
        ctx.exit(ExitStatus.USAGE)


def _connection_settings(
    args: ConnectionArgs, *, inputs: tuple[str, ...] = ()
) -> tuple[Credentials | None, UsageError | None, Endpoint, bytes | None]:
    """Credentials (or why they are missing), endpoint and --ca-cert from the connection options,
    the environment and .env (precedence in bsstream/settings.py). Every key found is registered
    for redaction. With --local, credentials are optional and default to the emulator's."""
    from bsstream.settings import load_ca_cert, parse_endpoint, resolve_endpoint

    register_secret(args.api_key)
    if args.api_key_file == "-" and "-" in inputs:
        raise UsageError(
            "--api-key-file - and the input - both want standard input: give the key another way"
        )
    # --local: the in-process emulator; BS_ENDPOINT (and .env) play no part
    environ = _streams().environ  # None: os.environ
    if args.local:
        endpoint = parse_endpoint(DEFAULT_ENDPOINT)
    else:
        endpoint = resolve_endpoint(args.endpoint, env=environ)
    ca_cert = load_ca_cert(args.ca_cert) if args.ca_cert is not None else None
    credentials: Credentials | None = None
    problem: UsageError | None = None
    try:
        credentials = _local_credentials(args) if args.local else _credentials(args, environ)
    except UsageError as exc:
        if args.local:
            raise
        problem = exc
    if credentials is not None:
        register_secret(credentials.api_key)
    return credentials, problem, endpoint, ca_cert


def _local_credentials(args: ConnectionArgs) -> Credentials:
    """--local: the emulator's unless --cid, --api-key or --api-key-file say otherwise."""
    from bsstream.settings import parse_cid, read_api_key_file

    cid = parse_cid(args.cid, "--cid") if args.cid else 1
    key = args.api_key or "local-emulator"
    if args.api_key_file:
        key = read_api_key_file(args.api_key_file, sys.stdin)
    return Credentials(cid, key)


def _credentials(args: ConnectionArgs, environ: Mapping[str, str] | None) -> Credentials:
    from bsstream.settings import resolve_credentials

    return resolve_credentials(
        args.cid, args.api_key, api_key_file=args.api_key_file, stdin=sys.stdin, env=environ
    )


def _run(run: RunConfig) -> int:
    from bsstream.app import run_streams

    return run_streams(run, _streams())


def _run_config(method: str, connection: ConnectionArgs, params: dict[str, object]) -> RunConfig:
    """The run the stream options ask for: every parameter goes into the RunConfig field (or
    the engine Options field in ``RunConfig.stream``) of its name; none may be left over."""
    from bsstream.app import RunConfig
    from bsstream.engine.options import Options

    inputs = tuple(str(i) for i in params.pop("inputs") or ())  # type: ignore[attr-defined]
    mic = params.pop("mic")
    if mic is not None:
        inputs = (*inputs, "mic:" if mic == "default" else f"mic:{mic}")
    if not inputs:
        ctx = click.get_current_context()
        raise click.UsageError("Missing argument 'INPUT...' (or --mic).", ctx=ctx)
    credentials, problem, endpoint, pem = _connection_settings(connection, inputs=inputs)
    if credentials is None:
        assert problem is not None
        raise problem
    run = _take(
        RunConfig,
        params,
        method=method,
        inputs=list(inputs),
        credentials=credentials,
        endpoint=endpoint,
        insecure=connection.insecure,
        ca_cert=pem,
        local=connection.local,
        stream=_take(Options, params),
    )
    if params:  # an option without its field: a programming error, caught by tests/test_help.py
        raise TypeError(f"stream options without a RunConfig field: {', '.join(sorted(params))}")
    return run


@cli.command(cls=GroupedCommand)
@stream_options(Method.ANALYZE.value)
def analyze(run: RunConfig) -> int:
    """Behavioral analysis (StreamAudio): emotion, gender, age, strength, positivity, ...

    INPUT is an audio or video file, a directory, a glob, or - for stdin.
    """
    return _run(run)


@cli.command(cls=GroupedCommand)
@stream_options(Method.DEEPFAKE.value)
def deepfake(run: RunConfig) -> int:
    """Deepfake detection (DeepfakeDetection): is it a real voice?

    INPUT is an audio or video file, a directory, a glob, or - for stdin.
    """
    return _run(run)


@cli.command(cls=GroupedCommand)
@connection_options
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Per step.",
)
def doctor(timeout: float, connection: ConnectionArgs) -> int:
    """Find out why streaming does not work: DNS, TCP, TLS, credentials, one short stream."""
    from bsstream.doctor import Step, run_doctor
    from bsstream.settings import parse_endpoint

    credentials, problem, target, pem = _connection_settings(connection)
    insecure = connection.insecure
    with contextlib.ExitStack() as stack:
        if connection.local:
            from bsstream.emulator.server import Emulator

            emulator = stack.enter_context(Emulator())
            target = parse_endpoint(emulator.address)
            insecure = True

        def credentials_error() -> Step:
            assert problem is not None
            return Step(False, "credentials", problem.message, problem.hint or "", problem.exit_status)

        return run_doctor(
            target,
            credentials,
            insecure=insecure,
            ca_cert=pem,
            out=_streams().stdout,
            timeout=timeout,
            credentials_error=credentials_error,
        )


@cli.command(cls=GroupedCommand)
@stream_options(SCAN)
def scan(run: RunConfig) -> int:
    """Both analyses in one pass: each input is decoded once and streamed to StreamAudio and
    DeepfakeDetection at the same time; one merged timeline, JSON lines carry "method".

    INPUT is an audio or video file, a directory, a glob, or - for stdin.
    """
    return _run(run)


@cli.command(cls=GroupedCommand)
@click.option(
    "--backend",
    type=click.Choice(["pulse", "alsa", "avfoundation", "dshow"]),
    help="Which capture backend to list (default: the platform's: pulse, avfoundation or dshow).",
)
def devices(backend: str | None) -> int:
    """List the capture devices --mic can use (their names as --mic takes them)."""
    from bsstream.audio.device import default_backend, explain_open_failure, list_devices, parse_device

    name, found = list_devices(backend)
    out = _streams().stdout
    if not found:
        err = explain_open_failure(parse_device(f"mic:{name}:"))
        why = err.message.split(": ", 1)[-1]
        raise type(err)(f"no capture devices found with {name}: {why}", hint=err.hint)
    for device, description, is_default in found:
        mark = "*" if is_default else " "
        out.write(f"{mark} mic:{name}:{device}" + (f"  ({description})" if description else "") + "\n")
    if (backend or default_backend()) == name:
        out.write("(* the default; --mic alone uses it)\n")
    out.flush()
    return 0


def _register_optional_commands(args: list[str] | None = None) -> None:
    """Commands that live in their own modules. With ``args``, a module is imported only when its
    command's name is one of the arguments (so it may be the one to run); otherwise the command
    is listed by a stand-in with its one-line help, which is all ``bsstream --help`` shows of it.
    Start-up then imports Click alone (replay pulls in protobuf, serve the ssl module)."""
    from bsstream.helptext import COMMANDS

    loaders: dict[str, Callable[[], click.Command]] = {
        "serve": lambda: __import__("bsstream.emulator.cli", fromlist=["x"]).serve_command,
        "replay": lambda: __import__("bsstream.replay", fromlist=["x"]).replay_command,
    }
    for name, load in loaders.items():
        current = cli.commands.get(name)
        if args is None or name in args:
            if current is None or getattr(current, "_stand_in", False):
                cli.add_command(load(), name)
        elif current is None:
            stand_in = click.Command(name, short_help=COMMANDS[name].short)
            stand_in._stand_in = True  # type: ignore[attr-defined]
            cli.add_command(stand_in, name)


def main(argv: list[str] | None = None, streams: Streams | None = None) -> int:
    """Run the CLI; turn every exception into one stderr line and an exit code.

    ``streams`` (httpie's ``main(args, env)``): run in-process with exactly those streams,
    environment and working directory instead of the process's own; what the run changes in
    the process (``sys.std*``, ``os.environ``, the working directory, the secret registry) is
    restored before it returns. Signal handlers are installed only in the main thread, and
    restored too (``app.handle_signals``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if streams is None:
        _utf8_stdout()
        return _main(args, None)
    with _in_process(streams):
        return _main(args, streams)


def _streams() -> Streams:
    """The streams of the running command: those given to :func:`main`, else the process's."""
    from bsstream.app import Streams, default_streams

    ctx = click.get_current_context(silent=True)
    given = ctx.find_root().obj if ctx is not None else None
    return given if isinstance(given, Streams) else default_streams()


@contextlib.contextmanager
def _in_process(streams: Streams) -> Iterator[None]:
    """The process as a separate run of bsstream would see it, for the block: ``sys.std*``
    are the given streams (click's help and any ``sys.std*`` reader see them; sys.stdin is a
    text view of ``streams.stdin``), ``os.environ`` is ``streams.environ`` (gRPC's proxy
    variables, BSSTREAM_FFMPEG and rich read the process environment), the working directory
    is ``streams.cwd``, and only the secrets this run registers are masked. All restored after."""
    from bsstream.redact import secrets_scope

    saved_std = sys.stdin, sys.stdout, sys.stderr
    saved_env = dict(os.environ) if streams.environ is not None else None
    saved_cwd = os.getcwd() if streams.cwd is not None else None
    text_stdin = io.TextIOWrapper(streams.stdin, encoding="utf-8")  # type: ignore[arg-type]
    try:
        if streams.environ is not None:
            _set_environ(streams.environ)
        if streams.cwd is not None:
            os.chdir(streams.cwd)
        sys.stdin, sys.stdout, sys.stderr = text_stdin, streams.stdout, streams.stderr
        with secrets_scope():
            yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_std
        with contextlib.suppress(ValueError):
            text_stdin.detach()  # never close the caller's stdin
        if saved_cwd is not None:
            os.chdir(saved_cwd)
        if saved_env is not None:
            _set_environ(saved_env)


def _set_environ(values: Mapping[str, str]) -> None:
    """Make ``os.environ`` equal to ``values``, touching only the names that differ."""
    for name in [n for n in os.environ if n not in values]:
        del os.environ[name]
    for name, value in values.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _main(args: list[str], streams: Streams | None) -> int:
    debug = "--debug" in args
    # gRPC's C core logs to stderr on its own (handshake failures, ...): our one line says it
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR" if debug else "NONE")
    try:
        _register_optional_commands(args)
        result = cli.main(args=args, prog_name="bsstream", standalone_mode=False, obj=streams)
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
            import traceback  # only here: it costs start-up (linecache, tokenize)

            _stderr_line(traceback.format_exc(), raw=True)
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


def _stderr_line(line: str, *, raw: bool = False) -> None:
    """One message line on stderr through the one writer (:func:`bsstream.redact.write_message`)."""
    write_message(sys.stderr, line, raw=raw)


def _quiet_broken_pipe() -> int:
    """stdout was closed by the reader (e.g. ``| head``): end quietly."""
    from bsstream.render import quiet_stdout

    quiet_stdout()
    return ExitStatus.SUCCESS


def entry() -> None:
    """The console script (and ``python -m bsstream``): run, then end without tearing the
    interpreter down.

    When :func:`main` returns, every output has been written and closed, every child reaped and
    every stream's call ended. What an ordinary exit still does after the ``atexit`` handlers is
    the interpreter's own finalisation (freeing every module and object; grpc's core stopping
    its threads): about 30 ms here, a seventh of a one-minute file's run. So the handlers run
    (the temporary-file safety nets among them), stdout and stderr are flushed, and the process
    ends with ``os._exit``. If a flush fails (a reader that went away) the ordinary exit takes
    over, as before."""
    status = int(main())
    run_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's own, run at every exit
    if run_handlers is None:
        sys.exit(status)
    try:
        run_handlers()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status)


if __name__ == "__main__":
    entry()
