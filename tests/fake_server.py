"""A strict, recording gRPC peer for wire checks (in-process, 127.0.0.1, port 0).

It records every AudioStream it receives, checks the contract's rules on each, and answers
with awkward-but-legal results: an unknown task, a unicode label, "1e-04", empty strings.
Some results are sent while audio streams, the tail only after the client half-closes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from bsstream._gen import api_pb2, api_pb2_grpc

CID = 424242
KEY = "sk-test-SECRET-abcdef123456"


@dataclass
class RecordedCall:
    method: str
    messages: list[api_pb2.AudioStream] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    half_closed: bool = False
    responses_before_half_close: int = 0
    responses_sent: int = 0
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() as each response left

    @property
    def chunks(self) -> list[bytes]:
        return [m.audio_content for m in self.messages[1:]]

    @property
    def audio_bytes(self) -> int:
        return sum(len(c) for c in self.chunks)


def awkward_results(
    message_id: int, start: float, end: float, tail: bool = False
) -> list[api_pb2.InferenceResult]:
    s, e = f"{start:.2f}", f"{end:.2f}"
    results = [
        api_pb2.InferenceResult(
            id=str(message_id),
            start_time=s,
            end_time=e,
            task="emotion",
            prediction=[
                api_pb2.Prediction(label="neutral", posterior="0.70"),
                api_pb2.Prediction(label="happy", posterior="1e-04"),
                api_pb2.Prediction(label="sad", posterior=""),
            ],
            final_label="neutral",
            level=api_pb2.segment,
        ),
        api_pb2.InferenceResult(
            id=str(message_id),
            start_time=s,
            end_time=e,
            task="sarcasm_v2",  # a task no client has heard of
            prediction=[api_pb2.Prediction(label="ñandú 😀", posterior="0.9")],
            final_label="ñandú 😀",
            level=api_pb2.segment,
        ),
    ]
    if tail:
        results.append(
            api_pb2.InferenceResult(
                id="u0",
                start_time="0.00",
                end_time=e,
                task="gender",
                final_label="",
                prediction=[],
                level=api_pb2.utterance,
            )
        )
    return results


class StrictServicer(api_pb2_grpc.BehavioralStreamingApiServicer):
    """Checks the rules, records everything, answers every ``every`` chunks and at the end."""

    def __init__(self, every: int = 8, tail_delay: float = 0.05) -> None:
        self.calls: list[RecordedCall] = []
        self.every = every
        self.tail_delay = tail_delay
        self.lock = threading.Lock()
        self.first_audio_at: float | None = None

    def _handle(self, method: str, requests: Iterator[api_pb2.AudioStream], context: grpc.ServicerContext):
        call = RecordedCall(method)
        with self.lock:
            self.calls.append(call)
        message_id = 0
        audio_seconds = 0.0
        last_end = 0.0
        for i, msg in enumerate(requests):
            call.messages.append(msg)
            if msg.cid != CID or msg.x_auth_token != KEY:
                call.violations.append(f"message {i}: credentials missing or wrong")
            if i == 0:
                if not msg.HasField("config") or msg.audio_content:
                    call.violations.append("first message must carry config and no audio")
                continue
            if self.first_audio_at is None:
                self.first_audio_at = time.monotonic()
            if msg.HasField("config"):
                call.violations.append(f"message {i}: config after the first message")
            if not msg.audio_content:
                call.violations.append(f"message {i}: no audio")
            if len(msg.audio_content) % 2:
                call.violations.append(f"message {i}: odd byte count")
            audio_seconds += len(msg.audio_content) / 32000
            if i % self.every == 0:
                call.sent_at.append(time.monotonic())
                yield api_pb2.StreamResult(
                    cid=msg.cid,
                    pid=777,
                    message_id=message_id,
                    result=awkward_results(message_id, last_end, audio_seconds),
                )
                call.responses_before_half_close += 1
                call.responses_sent += 1
                message_id += 1
                last_end = audio_seconds
        call.half_closed = True
        time.sleep(self.tail_delay)  # the tail arrives after the last chunk
        yield api_pb2.StreamResult(cid=CID, pid=777, message_id=message_id)  # an empty result list
        call.responses_sent += 1
        message_id += 1
        yield api_pb2.StreamResult(
            cid=CID,
            pid=777,
            message_id=message_id,
            result=awkward_results(message_id, last_end, audio_seconds, tail=True),
        )
        call.responses_sent += 1

    def StreamAudio(self, request_iterator, context):
        yield from self._handle("StreamAudio", request_iterator, context)

    def DeepfakeDetection(self, request_iterator, context):
        yield from self._handle("DeepfakeDetection", request_iterator, context)


class FakeServer:
    """Context manager: a grpc server on 127.0.0.1:0 running ``servicer``."""

    def __init__(self, servicer: api_pb2_grpc.BehavioralStreamingApiServicer | None = None) -> None:
        self.servicer = servicer or StrictServicer()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        api_pb2_grpc.add_BehavioralStreamingApiServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(0.2)


def scripted(
    handler: Callable[[Iterator[api_pb2.AudioStream], grpc.ServicerContext], Iterator[api_pb2.StreamResult]],
):
    """A servicer whose both methods run ``handler`` (for one-off fault scripts)."""

    class Scripted(api_pb2_grpc.BehavioralStreamingApiServicer):
        calls = 0

        def StreamAudio(self, request_iterator, context):
            Scripted.calls += 1
            yield from handler(request_iterator, context)

        DeepfakeDetection = StreamAudio

    return Scripted()
