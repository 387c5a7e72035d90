"""A scripted loopback server for the scaling benchmark: cheap, so it is never the bottleneck.

:mod:`bench.scale` runs hundreds of concurrent ``--realtime`` streams against one server. The
emulator analyses what it receives and :mod:`bench.count_server` answers nothing; this peer reads
every request of both RPCs (``StreamAudio`` and ``DeepfakeDetection``, on ``grpc.aio``: one event
loop, no thread per call), checks the credentials of the first message, and answers with one
small canned ``StreamResult`` per ``--result-every`` seconds of audio received, so the client has
results to receive and parse without the server doing any analysis. Like the service, it answers
the level the config asks for; with the level unset (the default: both levels), each message
carries a segment result and every second one also an utterance result covering the last two
segments (utterances of ``2 × --result-every`` seconds), so a client's replay buffer is released
behind the utterances as it would be with real speech.

For each audio message it notes the arrival on ``time.monotonic()`` (one clock for every process
on the machine) and its *pacing lag*: how much later than its real-time schedule it arrived,
``arrival - (first audio arrival + audio seconds before it)``. The first chunk anchors the
schedule, so connection set-up is not lag; :mod:`bench.scale` reports the first chunk's own delay
separately.

Run on its own (the runners do, through :class:`bench.run.ProbeServer`)::

    python -m bench.script_server --records calls.jsonl [--cid 1 --api-key k] [--result-every 2]

It prints ``LISTENING host:port`` once it accepts calls, appends one JSON line per finished call
to ``--records`` (:class:`ScriptRecord`), and stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc

from bench.serverutil import CallRecord, RecordFile, announce, server_parser, stop_event
from bsstream._gen import api_pb2, api_pb2_grpc

MAX_MESSAGE = 4 * 1024 * 1024
DEFAULT_RESULT_EVERY = 2.0  # seconds of audio per canned result (the service's segment cadence)
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_concurrent_streams", 100_000),  # a thousand calls share one client connection
]


@dataclass
class ScriptRecord(CallRecord):
    """A :class:`~bench.serverutil.CallRecord` plus the scripted answers and each chunk's lag."""

    results_sent: int = 0  # results (InferenceResult), not messages
    code: str = "OK"
    lags: list[float] = field(default_factory=list)  # seconds, one per audio message after the first


def results_for(seconds: float, every: float, both_levels: bool) -> int:
    """How many results a call of ``seconds`` of audio gets (the runners' expectation)."""
    segments = int(seconds / every + 1e-9)
    return segments + (segments // 2 if both_levels else 0)


def canned(method: str, index: int, every: float, level: Any, span: int = 1) -> api_pb2.InferenceResult:
    """The result ending at ``(index + 1) * every`` s and ``span`` windows long; fixed labels."""
    start, end = (index + 1 - span) * every, (index + 1) * every
    labels: tuple[tuple[str, str], ...]
    if method == "DeepfakeDetection":
        task, labels = "deepfake", (("bonafide", "0.9731"), ("spoofed", "0.0269"))
    else:
        task, labels = "emotion", (("neutral", "0.8125"), ("happy", "0.1250"), ("angry", "0.0625"))
    return api_pb2.InferenceResult(
        id=str(index),
        start_time=f"{start:.2f}",
        end_time=f"{end:.2f}",
        task=task,
        prediction=[api_pb2.Prediction(label=label, posterior=p) for label, p in labels],
        final_label=labels[0][0],
        level=level,
    )


class ScriptServicer(api_pb2_grpc.BehavioralStreamingApiServicer):
    """Both methods: read everything, answer one canned result per ``every`` seconds of audio."""

    def __init__(
        self, cid: int | None, api_key: str | None, every: float, on_call: Callable[[ScriptRecord], None]
    ) -> None:
        self._cid = cid
        self._key = api_key
        self._every = every
        self._on_call = on_call
        self._pids = iter(range(20000, 1 << 30))

    async def _serve(
        self, method: str, requests: AsyncIterator[api_pb2.AudioStream], context: Any
    ) -> AsyncIterator[api_pb2.StreamResult]:
        record = ScriptRecord(method=method, started=time.monotonic())
        pid = next(self._pids)
        level: Any = None  # the config's level; None: both
        next_result = 0
        bytes_per_result = 0
        messages = 0
        cid = 0
        try:
            async for msg in requests:
                now = time.monotonic()
                if not record.sample_rate:
                    if (self._cid is not None and msg.cid != self._cid) or (
                        self._key is not None and msg.x_auth_token != self._key
                    ):
                        record.code = "UNAUTHENTICATED"
                        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong cid or key")
                    if not msg.HasField("config") or not msg.config.sample_rate_hertz:
                        record.code = "INVALID_ARGUMENT"
                        await context.abort(
                            grpc.StatusCode.INVALID_ARGUMENT, "the first message has no config"
                        )
                    cid = msg.cid
                    record.sample_rate = msg.config.sample_rate_hertz
                    if msg.config.HasField("level"):
                        level = msg.config.level
                    bytes_per_result = int(self._every * record.sample_rate) * 2
                size = len(msg.audio_content)
                if not size:
                    continue
                if record.first_chunk is None:
                    record.first_chunk = now
                else:
                    scheduled = record.first_chunk + record.audio_bytes / (2 * record.sample_rate)
                    record.lags.append(round(now - scheduled, 5))
                record.last_chunk = now
                record.bytes_before_last = record.audio_bytes
                record.audio_bytes += size
                record.chunks += 1
                while record.audio_bytes >= (next_result + 1) * bytes_per_result:
                    if level is not None:
                        results = [canned(method, next_result, self._every, level)]
                    else:
                        results = [canned(method, next_result, self._every, api_pb2.segment)]
                        if next_result % 2 == 1:
                            results.append(canned(method, next_result, self._every, api_pb2.utterance, 2))
                    yield api_pb2.StreamResult(cid=cid, pid=pid, message_id=messages, result=results)
                    messages += 1
                    record.results_sent += len(results)
                    next_result += 1
        except asyncio.CancelledError:
            record.code = "CANCELLED"
            raise
        finally:
            record.ended = time.monotonic()
            self._on_call(record)

    async def StreamAudio(
        self, request_iterator: AsyncIterator[api_pb2.AudioStream], context: Any
    ) -> AsyncIterator[api_pb2.StreamResult]:
        async for response in self._serve("StreamAudio", request_iterator, context):
            yield response

    async def DeepfakeDetection(
        self, request_iterator: AsyncIterator[api_pb2.AudioStream], context: Any
    ) -> AsyncIterator[api_pb2.StreamResult]:
        async for response in self._serve("DeepfakeDetection", request_iterator, context):
            yield response


async def serve(args: Any, records: RecordFile) -> None:
    server = grpc.aio.server(options=SERVER_OPTIONS)
    servicer = ScriptServicer(
        args.cid, args.api_key, args.result_every, lambda record: records.write(json.dumps(asdict(record)))
    )
    api_pb2_grpc.add_BehavioralStreamingApiServicer_to_server(servicer, server)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    await server.start()
    announce(f"{args.host}:{port}")
    stop = stop_event()
    while not stop.is_set():
        await asyncio.sleep(0.2)
    await server.stop(1)


def main(argv: list[str] | None = None) -> int:
    parser = server_parser(
        "python -m bench.script_server",
        "The scaling benchmark's loopback server: reads everything, answers canned results.",
    )
    parser.add_argument(
        "--result-every",
        type=float,
        default=DEFAULT_RESULT_EVERY,
        help=f"seconds of audio per canned result (default {DEFAULT_RESULT_EVERY:g})",
    )
    args = parser.parse_args(argv)
    with RecordFile(args.records) as records:
        asyncio.run(serve(args, records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
