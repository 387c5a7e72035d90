"""Run the CLI as a user would and collect (exit code, stdout, stderr).

``bsstream(...)`` runs it in-process by default: ``bsstream.cli.main(argv, streams)`` with the
given stdin bytes on a real pipe, stdout/stderr captured, the environment and working directory
injected (like httpie's ``main(args, env)`` and its tests' ``MockEnvironment``); main restores
every piece of process state it touches. ``subprocess=True`` (or :func:`bsstream_proc`) runs
``python -m bsstream`` in a real child for what needs a process: signals, closed pipes, fd-level
behaviour, the exit code of the real entry point, gRPC's own logging.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess as sp
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType


@dataclass
class Result:
    code: int
    out: str
    err: str


Env = Mapping[str, str | None]


def child_environ(env: Env | None = None) -> dict[str, str]:
    """The test process's environment without BS_* (no real credentials), plus ``env``
    (a None value: the variable is removed)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def bsstream(
    *args: str,
    stdin: bytes | None = None,
    env: Env | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    subprocess: bool = False,
) -> Result:
    """bsstream ARGS with ``stdin`` piped in (default: an empty pipe), the test's environment
    minus BS_* plus ``env``, in ``cwd``. In-process unless ``subprocess``."""
    if subprocess:
        return bsstream_proc(*args, stdin=stdin, env=env, cwd=cwd, timeout=timeout)
    return bsstream_inproc(*args, stdin=stdin, env=env, cwd=cwd, timeout=timeout)


def bsstream_proc(
    *args: str,
    stdin: bytes | None = None,
    env: Env | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """``python -m bsstream ARGS`` in a real child process (real fds, signals, exit code)."""
    proc = sp.run(
        [sys.executable, "-m", "bsstream", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=child_environ(env),
        cwd=cwd,
        timeout=timeout,
    )
    return Result(
        proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    )


class _Capture(io.BytesIO):
    """A BytesIO that keeps its bytes if the CLI closes it."""

    value = b""

    def close(self) -> None:
        if not self.closed:
            self.value = self.getvalue()
        super().close()

    def text(self) -> str:
        return (self.value if self.closed else self.getvalue()).decode("utf-8", "replace")


class InProcessTimeout(BaseException):
    """The in-process run took longer than its ``timeout`` (BaseException: the CLI turns every
    Exception into an exit code, and this must reach the test)."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise InProcessTimeout in the main thread after ``seconds`` (no limit off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise InProcessTimeout(f"bsstream did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _feed(fd: int, data: bytes) -> None:
    """Write ``data`` to the pipe's write end and close it (the reader may stop early)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:  # BrokenPipeError: the CLI closed its stdin without reading it all
        pass
    finally:
        os.close(fd)


def _no_thread_keeps_running(before: set[threading.Thread], grace: float = 5.0) -> None:
    """A real process does not exit while a non-daemon thread runs: neither may a run here
    leave one behind. (Thread pools are left out: a gRPC server of the test's own, serving the
    run, keeps its idle workers.)"""
    deadline = time.monotonic() + grace
    for thread in set(threading.enumerate()) - before:
        if thread.daemon or thread.name.startswith("ThreadPoolExecutor"):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), f"bsstream returned but left {thread!r} running (a process would hang)"


def bsstream_inproc(
    *args: str,
    stdin: bytes | None = None,
    env: Env | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """``bsstream.cli.main(ARGS, streams)`` in this process: stdin is a real pipe (the CLI
    reads it by file descriptor like a child's stdin), stdout/stderr are UTF-8 captures and
    not terminals."""
    from bsstream.app import Streams
    from bsstream.cli import main

    out, err = _Capture(), _Capture()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    read_fd, write_fd = os.pipe()
    feeder = threading.Thread(target=_feed, args=(write_fd, stdin or b""), daemon=True)
    feeder.start()
    reader = open(read_fd, "rb")  # noqa: SIM115 - closed below
    streams = Streams(
        stdin=reader,
        stdout=stdout,
        stderr=stderr,
        environ=child_environ(env),
        cwd=Path(cwd) if cwd is not None else None,
    )
    threads_before = set(threading.enumerate())
    try:
        with _deadline(timeout):
            try:
                code = main(list(args), streams)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        _no_thread_keeps_running(threads_before)
    finally:
        reader.close()  # a feeder blocked on a full pipe gets EPIPE and ends
        feeder.join(10)
        for stream in (stdout, stderr):
            try:
                stream.flush()
                stream.detach()
            except ValueError:  # closed by the CLI: _Capture kept the bytes
                pass
    return Result(int(code), out.text(), err.text())
