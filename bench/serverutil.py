"""What the benchmark's loopback servers share: their command line, the call-record file and the
run-until-signalled loop.

Each server (:mod:`bench.count_server`, :mod:`bench.probe_server`, :mod:`bench.script_server`)
is started by the runners in its own process (so it never shares a GIL with the runner or the
client measured), prints ``LISTENING host:port`` once it accepts calls, appends one JSON line
per finished call to ``--records`` and stops on SIGTERM or Ctrl-C. The runners start them
through :class:`bench.run.ProbeServer`.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from dataclasses import asdict, dataclass, fields
from types import TracebackType
from typing import TypeVar

R = TypeVar("R", bound="CallRecord")


@dataclass
class CallRecord:
    """One call as the server saw it; times are ``time.monotonic()`` seconds."""

    method: str
    started: float  # the handler began (call accepted)
    sample_rate: int = 0  # from the config message
    first_chunk: float | None = None  # first audio message reached the handler
    last_chunk: float | None = None  # last audio message reached the handler
    ended: float | None = None  # the handler finished (results flushed or call failed)
    chunks: int = 0
    audio_bytes: int = 0
    bytes_before_last: int = 0  # audio bytes before the last chunk: its start in the stream

    @property
    def last_chunk_audio_time(self) -> float | None:
        """Seconds of audio before the last chunk (16-bit mono at ``sample_rate``)."""
        if not self.sample_rate or self.last_chunk is None:
            return None
        return self.bytes_before_last / (2 * self.sample_rate)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls: type[R], line: str) -> R:
        """A record from its JSON line; fields a subclass added (another server's) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(line).items() if k in names})


def server_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark server takes (a server may add its own)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--records", required=True, help="append one JSON line per finished call here")
    parser.add_argument("--cid", type=int, default=None)
    parser.add_argument("--api-key", default=None)
    return parser


class RecordFile:
    """The ``--records`` file: one flushed JSON line per finished call, from any thread."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the server's lifetime

    def write(self, line: str) -> None:
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def close(self) -> None:
        with self._lock:
            self._out.close()

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT (install from the main thread)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def announce(address: str) -> None:
    """Tell the runner the server is up (it reads this one line from the server's stdout)."""
    print(f"LISTENING {address}", flush=True)


def wait_until_stopped(stop: threading.Event) -> None:
    while not stop.wait(0.2):
        pass
