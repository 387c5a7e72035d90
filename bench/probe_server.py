"""A loopback gRPC server for the benchmark: the real emulator, plus arrival times per call.

It is :class:`bsstream.emulator.server.Emulator` unchanged (same protocol checks, same VAD and
analysis, same responses) with a thin wrapper around each call's request iterator that
notes, on ``time.monotonic()`` (CLOCK_MONOTONIC: one clock for every process on the
machine), when the first and the last audio message reached the handler. The runner
notes the same clock just before it spawns a client, so "first chunk - spawn" is the time
from the client's process start to its first audio at the server.

Run on its own (the benchmark does, so the server never shares a GIL with the runner)::

    python -m bench.probe_server --port 0 --records calls.jsonl [--cid 1 --api-key k]

It prints ``LISTENING host:port`` on stdout once it accepts calls, appends one JSON line
per finished call to ``--records``, and stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any

from bsstream._gen import api_pb2
from bsstream.emulator.server import Emulator


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
    def from_json(cls, line: str) -> CallRecord:
        return cls(**json.loads(line))


class ProbeEmulator(Emulator):
    """The emulator, recording per call when audio arrived; ``on_call`` gets each finished call."""

    def __init__(self, *args: Any, on_call: Callable[[CallRecord], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_call = on_call

    async def _handle(
        self, method: str, requests: AsyncIterator[api_pb2.AudioStream], context: Any
    ) -> AsyncIterator[api_pb2.StreamResult]:
        record = CallRecord(method=method, started=time.monotonic())
        try:
            async for response in super()._handle(method, _timed(requests, record), context):
                yield response
        finally:
            record.ended = time.monotonic()
            self._on_call(record)


async def _timed(
    requests: AsyncIterator[api_pb2.AudioStream], record: CallRecord
) -> AsyncIterator[api_pb2.AudioStream]:
    async for msg in requests:
        now = time.monotonic()
        if msg.HasField("config"):
            record.sample_rate = msg.config.sample_rate_hertz
        size = len(msg.audio_content)
        if size:
            if record.first_chunk is None:
                record.first_chunk = now
            record.last_chunk = now
            record.bytes_before_last = record.audio_bytes
            record.audio_bytes += size
            record.chunks += 1
        yield msg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.probe_server",
        description="The benchmark's loopback server (the emulator plus arrival times).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--records", required=True, help="append one JSON line per finished call here")
    parser.add_argument("--cid", type=int, default=None)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)

    lock = threading.Lock()
    out = open(args.records, "a", encoding="utf-8")  # noqa: SIM115 - open for the server's lifetime

    def write(record: CallRecord) -> None:
        with lock:
            out.write(record.to_json() + "\n")
            out.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ProbeEmulator(args.host, args.port, cid=args.cid, api_key=args.api_key, on_call=write) as emu:
        print(f"LISTENING {emu.address}", flush=True)
        while not stop.wait(0.2):
            pass
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
