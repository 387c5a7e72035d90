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
call to ``--records`` (the :class:`bench.probe_server.CallRecord` format), and stops on
SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from bench.probe_server import CallRecord
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
    parser = argparse.ArgumentParser(
        prog="python -m bench.count_server",
        description="The benchmark's byte-counting loopback server.",
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
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ],
    )
    api_pb2_grpc.add_BehavioralStreamingApiServicer_to_server(
        CountingServicer(args.cid, args.api_key, write), server
    )
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    server.start()
    print(f"LISTENING {args.host}:{port}", flush=True)
    while not stop.wait(0.2):
        pass
    server.stop(1).wait()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
