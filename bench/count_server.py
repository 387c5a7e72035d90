"""A loopback gRPC peer that only counts: the benchmark's default server for client comparisons.

The emulator analyses what it receives (VAD, pitch, loudness) and, unpaced, holds both clients
to its own speed through gRPC flow control, so a comparison against it measures mostly the
server. This peer does the least a server can: it reads every message of a call, checks the
credentials of the first, counts the audio bytes and notes (on ``time.monotonic()``, one
clock for every process on the machine) when the first and the last audio message arrived.
It answers no results; the call ends OK when the client half-closes.

Run on its own (the benchmark does, so the server never shares a GIL with the runner)::

    python -m bench.count_server --records calls.jsonl [--cid 1 --api-key k]

It prints ``LISTENING host:port`` once it accepts calls, appends one JSON line per finished
call to ``--records`` (the :class:`bench.serverutil.CallRecord` format), and stops on
SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from bench.serverutil import CallRecord, RecordFile, announce, server_parser, stop_event, wait_until_stopped
from bsstream._gen import api_pb2, api_pb2_grpc

MAX_MESSAGE = 4 * 1024 * 1024


class CountingServicer(api_pb2_grpc.BehavioralStreamingApiServicer):
    """Both methods: read everything, count the audio, answer nothing."""

    def __init__(self, cid: int | None, api_key: str | None, on_call: Callable[[CallRecord], None]) -> None:
        self._cid = cid
        self._key = api_key
        self._on_call = on_call

    def _count(self, method: str, requests: Iterator[api_pb2.AudioStream], context: Any) -> None:
        record = CallRecord(method=method, started=time.monotonic())
        try:
            first = True
            for msg in requests:
                now = time.monotonic()
                if first:
                    first = False
                    if (self._cid is not None and msg.cid != self._cid) or (
                        self._key is not None and msg.x_auth_token != self._key
                    ):
                        context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong cid or key")
                    record.sample_rate = msg.config.sample_rate_hertz
                size = len(msg.audio_content)
                if size:
                    if record.first_chunk is None:
                        record.first_chunk = now
                    record.last_chunk = now
                    record.bytes_before_last = record.audio_bytes
                    record.audio_bytes += size
                    record.chunks += 1
        finally:
            record.ended = time.monotonic()
            self._on_call(record)

    def StreamAudio(
        self, request_iterator: Iterator[api_pb2.AudioStream], context: Any
    ) -> Iterator[api_pb2.StreamResult]:
        self._count("StreamAudio", request_iterator, context)
        return iter(())

    def DeepfakeDetection(
        self, request_iterator: Iterator[api_pb2.AudioStream], context: Any
    ) -> Iterator[api_pb2.StreamResult]:
        self._count("DeepfakeDetection", request_iterator, context)
        return iter(())


def main(argv: list[str] | None = None) -> int:
    parser = server_parser("python -m bench.count_server", "The benchmark's byte-counting loopback server.")
    args = parser.parse_args(argv)
    stop = stop_event()
    with RecordFile(args.records) as records:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
            ],
        )
        api_pb2_grpc.add_BehavioralStreamingApiServicer_to_server(
            CountingServicer(args.cid, args.api_key, lambda record: records.write(record.to_json())), server
        )
        port = server.add_insecure_port(f"{args.host}:{args.port}")
        server.start()
        announce(f"{args.host}:{port}")
        wait_until_stopped(stop)
        server.stop(1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
