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

import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from bench.serverutil import CallRecord, RecordFile, announce, server_parser, stop_event, wait_until_stopped
from bsstream._gen import api_pb2
from bsstream.emulator.server import Emulator


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
    parser = server_parser(
        "python -m bench.probe_server", "The benchmark's loopback server (the emulator plus arrival times)."
    )
    args = parser.parse_args(argv)
    stop = stop_event()
    with (
        RecordFile(args.records) as records,
        ProbeEmulator(
            args.host,
            args.port,
            cid=args.cid,
            api_key=args.api_key,
            on_call=lambda record: records.write(record.to_json()),
        ) as emu,
    ):
        announce(emu.address)
        wait_until_stopped(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
