"""Resume machinery: the bounded replay buffer, de-duplication, time shifting, stats."""

from __future__ import annotations

import grpc
import pytest

from bsstream._gen import api_pb2
from bsstream.protocol.messages import build_config
from bsstream.protocol.results import Result, shift_time
from bsstream.protocol.resume import AudioFeed, Deduper, seconds_to_bytes
from bsstream.protocol.stats import LatencyTracker, percentile, stats_dict
from bsstream.protocol.stream import NullSink
from bsstream.session import Session, StreamOptions
from bsstream.settings import Credentials, parse_endpoint
from bsstream.transport import Transport
from tests.fake_server import CID, KEY, FakeServer, scripted


def test_feed_reads_exact_chunks_by_position_and_replays():
    data = bytes(range(256)) * 100  # 25,600 bytes
    feed = AudioFeed((data[i : i + 3000] for i in range(0, len(data), 3000)), max_buffer_bytes=10**6)
    assert feed.read(0, 8000) == data[:8000]
    assert feed.read(8000, 8000) == data[8000:16000]
    assert feed.read(1234, 8000) == data[1234:9234]  # a replay from an unaligned point
    assert feed.read(24000, 8000) == data[24000:]  # the last chunk is short
    assert feed.read(len(data), 8000) == b"" and feed.eof


def test_feed_is_bounded_and_says_what_was_dropped():
    data = bytes(1000) * 100
    feed = AudioFeed((data[i : i + 1000] for i in range(0, len(data), 1000)), max_buffer_bytes=5000)
    for pos in range(0, 50_000, 1000):
        feed.read(pos, 1000)
    assert feed.buffer_start >= 50_000 - 5000 - 1000
    with pytest.raises(LookupError):
        feed.read(0, 1000)
    feed.release_before(49_000)
    assert feed.buffer_start == 49_000


def test_feed_keeps_decoder_errors():
    def broken():
        yield b"\0" * 100
        raise RuntimeError("disk on fire")

    feed = AudioFeed(broken(), max_buffer_bytes=1000)
    assert feed.read(0, 100) == b"\0" * 100
    assert feed.read(100, 100) == b"" and isinstance(feed.error, RuntimeError)


def test_deduper_only_drops_repeats_from_earlier_attempts():
    d = Deduper()
    r = Result(id="1", start_time="2.00", end_time="4.00", task="emotion")
    assert d.is_new(r) and d.is_new(r)  # the same window twice in one call is legal
    d.next_attempt()
    assert not d.is_new(Result(id="9", start_time="2.0", end_time="4", task="emotion"))
    assert d.is_new(Result(id="9", start_time="2.00", end_time="4.00", task="gender"))


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        ("2.00", 10.0, "12.00"),
        ("1.5", 0.25, "1.8"),
        ("abc", 3.0, "abc"),
        ("", 1.0, ""),
        ("3", 0.0, "3"),
    ],
)
def test_shift_time(text, offset, expected):
    assert shift_time(text, offset) == expected


def test_latency_and_percentiles():
    t = LatencyTracker()
    for i in range(1, 5):
        t.sent(i * 0.25, 100.0 + i * 0.25)
    t.received(0.5, 100.6)  # the chunk ending at 0.5 s left at 100.5
    t.received(0.9, 101.3)  # covered by the chunk ending at 1.0 s, sent at 101.0
    assert t.latencies == pytest.approx([0.1, 0.3])
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 95) is None
    s = stats_dict(audio_seconds=10, wall_seconds=2, messages=3, results=9, latencies=[0.1, 0.2])
    assert s["real_time_factor"] == 0.2 and s["latency_p50"] == 0.15


class MemorySource:
    name = "live"
    duration = None

    def __init__(self, data: bytes) -> None:
        self.data = data

    def blocks(self):
        for i in range(0, len(self.data), 4000):
            yield self.data[i : i + 4000]

    def close(self) -> None:
        pass


def test_audio_beyond_the_buffer_is_reported_lost():
    calls = []

    def handler(requests, context):
        calls.append(0)
        n = 0
        for _i, msg in enumerate(requests):
            n += len(msg.audio_content)
            if len(calls) == 1 and n >= 6 * 32000:
                yield api_pb2.StreamResult(
                    cid=CID,
                    message_id=0,
                    result=[
                        api_pb2.InferenceResult(start_time="0.00", end_time="2.00", task="t", final_label="x")
                    ],
                )
                context.abort(grpc.StatusCode.UNAVAILABLE, "keepalive watchdog timeout")
        yield api_pb2.StreamResult(cid=CID, message_id=0)

    notes: list[str] = []
    events: list[dict] = []

    class Events(NullSink):
        def event(self, event):
            events.append(event)

    with FakeServer(scripted(handler)) as srv, Transport(parse_endpoint(srv.address), insecure=True) as tr:
        options = StreamOptions(
            method="StreamAudio",
            credentials=Credentials(CID, KEY),
            config=build_config("segment"),  # utterance resumes: test_reconnect_proxy.py
            retries=1,
            backoff_base=0.01,
            replay_seconds=1.0,
        )
        outcome = Session(tr, options, notify=notes.append).run(MemorySource(bytes(10 * 32000)), Events())
    assert outcome.status == 0
    (event,) = events
    assert event["audio_lost_seconds"] > 2.5 and event["resume_from"] > 4.5
    assert "could not be replayed and is lost" in notes[0]
    assert seconds_to_bytes(event["resume_from"]) % 2 == 0
