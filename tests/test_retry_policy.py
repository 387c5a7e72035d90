"""The reconnect policy: the time-based retry budget, backoff by kind, the server's retry hint,
where a resumed call starts (the last utterance's end), what it reports when that audio is gone,
the one diagnosis of a connection that never answered, and --retry-for parsing."""

from __future__ import annotations

import io
import json

import grpc
import pytest

from bsstream._gen import api_pb2
from bsstream.app import Streams, run_streams
from bsstream.protocol.messages import build_config
from bsstream.protocol.results import Result
from bsstream.protocol.resume import ResumePoint, RetryBudget, seconds_to_bytes
from bsstream.protocol.stream import NullSink
from bsstream.session import Session, StreamOptions
from bsstream.settings import Credentials, parse_duration, parse_endpoint
from bsstream.status import BsError, ConnectionFailure, ExitStatus, RetryKind, UsageError
from bsstream.transport import CallFailed, Transport
from tests.clirun import bsstream
from tests.conftest import tone_pcm, write_wav
from tests.fake_server import CID, KEY, FakeServer, scripted
from tests.runconfig import run_config

# ------------------------------------------------------------------------------ RetryBudget


def test_backoff_doubles_to_its_cap_and_slow_starts_higher():
    budget = RetryBudget(retry_for=1000, jitter=lambda: 1.0)  # jitter 1.0: the full delay
    delays = [budget.decide(RetryKind.NOW, now=0.0).delay for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    slow = RetryBudget(retry_for=1000, jitter=lambda: 0.0)  # jitter 0.0: half the delay
    assert [slow.decide(RetryKind.SLOW, now=0.0).delay for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]


def test_window_closes_after_retry_for_without_progress_and_progress_reopens_it():
    budget = RetryBudget(retry_for=60, jitter=lambda: 1.0)
    assert budget.decide(RetryKind.NOW, now=100.0).delay == 0.5
    assert budget.decide(RetryKind.NOW, now=159.0).delay == 1.0  # 1 s left: min(backoff, left)
    assert budget.decide(RetryKind.NOW, now=159.9).delay == pytest.approx(0.1)
    gave_up = budget.decide(RetryKind.NOW, now=160.0)
    assert gave_up.delay is None and gave_up.reason == "window"
    budget.progress()  # a resumed call delivered results: a new outage gets a whole window
    again = budget.decide(RetryKind.NOW, now=500.0)
    assert again.delay == 0.5 and budget.remaining(500.0) == 60
    assert budget.reconnects == 4


def test_reconnect_cap_disabled_and_not_retryable():
    capped = RetryBudget(retry_for=60, max_reconnects=2)
    assert capped.decide(RetryKind.NOW, 0).delay is not None
    capped.progress()  # the cap counts the whole stream, progress or not
    assert capped.decide(RetryKind.NOW, 1).delay is not None
    assert capped.decide(RetryKind.NOW, 2).reason == "attempts"
    assert RetryBudget(retry_for=0).decide(RetryKind.NOW, 0).reason == "disabled"
    assert RetryBudget(retry_for=60, max_reconnects=0).decide(RetryKind.NOW, 0).reason == "disabled"
    assert RetryBudget(retry_for=60).decide(RetryKind.NO, 0).reason == "not retryable"


def test_server_retry_hint_replaces_the_backoff():
    budget = RetryBudget(retry_for=60, jitter=lambda: 1.0)
    assert budget.decide(RetryKind.SLOW, 0, pushback=0.25).delay == 0.25
    assert budget.decide(RetryKind.SLOW, 0, pushback=-1.0).reason == "server"  # "do not retry"
    assert budget.decide(RetryKind.SLOW, 0, pushback=120.0).reason == "server"  # beyond the window


def test_pushback_is_read_from_trailing_metadata():
    assert CallFailed("UNAVAILABLE", "x").retry_pushback is None
    assert CallFailed("RESOURCE_EXHAUSTED", "x", (("grpc-retry-pushback-ms", "1500"),)).retry_pushback == 1.5
    assert CallFailed("RESOURCE_EXHAUSTED", "x", (("grpc-retry-pushback-ms", "-1"),)).retry_pushback == -1.0
    assert CallFailed("RESOURCE_EXHAUSTED", "x", (("grpc-retry-pushback-ms", "soon"),)).retry_pushback == -1.0


# ------------------------------------------------------------------------------ ResumePoint


def seg(start: float, end: float) -> Result:
    return Result(id="s", start_time=f"{start:.2f}", end_time=f"{end:.2f}", task="emotion", level="segment")


def utt(start: float, end: float) -> Result:
    return Result(id="u", start_time=f"{start:.2f}", end_time=f"{end:.2f}", task="emotion", level="utterance")


def test_resume_at_the_last_utterance_end_and_drop_replayed_segments():
    point = ResumePoint(utterances=True)
    for r in (seg(0.04, 2.04), utt(0.04, 2.30), seg(3.1, 5.1), seg(5.1, 7.1)):
        point.observe(r, sent_seconds=20.0)
    assert point.keep_from() == seconds_to_bytes(2.30)  # the buffer keeps the open utterance
    plan = point.plan(buffer_start=0)
    assert plan.resume_at == seconds_to_bytes(2.30) and plan.resume_at % 2 == 0
    assert plan.audio_lost == 0 and plan.utterance_lost is None
    # the new call sends the open utterance's segments again, its windows moved by a frame
    assert point.is_replayed(seg(3.12, 5.12)) and point.is_replayed(seg(5.12, 7.18))
    assert not point.is_replayed(seg(7.12, 9.12))  # new audio
    assert not point.is_replayed(utt(3.1, 8.0))  # the utterance: the reason for the replay


def test_segments_only_resume_at_the_last_result_and_bogus_times_are_clamped():
    point = ResumePoint(utterances=False)
    point.observe(seg(0, 2), sent_seconds=10.0)
    point.observe(seg(2, 99999), sent_seconds=10.0)  # never past the audio sent
    assert point.plan(buffer_start=0).resume_at == seconds_to_bytes(10.0)
    assert not point.is_replayed(seg(10, 12))


def test_buffer_too_short_names_the_span_that_lost_its_utterance():
    point = ResumePoint(utterances=True)
    point.observe(utt(0.0, 4.0), sent_seconds=400.0)
    point.observe(seg(300.0, 302.0), sent_seconds=400.0)
    plan = point.plan(buffer_start=seconds_to_bytes(100.0))  # 300 s buffer: 4 s is gone
    assert plan.resume_at == seconds_to_bytes(100.0) and plan.audio_lost == 0
    assert plan.utterance_lost == (4.0, 100.0) and plan.utterance_reason == "buffer"
    assert point.plan(buffer_start=seconds_to_bytes(100.0)).utterance_lost is None  # said once


def test_a_replay_that_keeps_failing_moves_on_and_says_so():
    point = ResumePoint(utterances=True)
    point.observe(utt(0.0, 1.0), sent_seconds=12.0)
    point.observe(seg(1.5, 11.5), sent_seconds=12.0)
    for _ in range(2):  # two calls replay 1.0-11.5 s, send past it and get nothing new
        assert point.plan(buffer_start=0).resume_at == seconds_to_bytes(1.0)
        point.call_ended(sent_to=seconds_to_bytes(11.6))
    plan = point.plan(buffer_start=0)
    assert plan.resume_at == seconds_to_bytes(11.5)
    assert plan.utterance_lost == (1.0, 11.5) and plan.utterance_reason == "stuck"


def test_a_call_that_failed_before_sending_the_replay_is_not_stuck():
    point = ResumePoint(utterances=True)
    point.observe(utt(0.0, 1.0), sent_seconds=12.0)
    point.observe(seg(1.5, 11.5), sent_seconds=12.0)
    for _ in range(5):  # refused connections: nothing was replayed
        assert point.plan(buffer_start=0).resume_at == seconds_to_bytes(1.0)
        point.call_ended(sent_to=seconds_to_bytes(1.0))
    assert point.plan(buffer_start=0).utterance_lost is None


# ------------------------------------------------------------------------------ at a server


def run(address: str, wav: str, **kw: object) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("backoff_base", 0.01)
    config = run_config(
        method="StreamAudio",
        inputs=[wav],
        credentials=Credentials(CID, KEY),
        endpoint=parse_endpoint(address),
        insecure=True,
        json=True,
        **kw,
    )
    rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
    return rc, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def limited(pushback: str | None, limit_calls: int = 1):
    """RESOURCE_EXHAUSTED (with a retry hint) for the first calls, then a normal answer."""
    calls: list[int] = []

    def handler(requests, context):
        calls.append(1)
        for _ in requests:
            if len(calls) <= limit_calls:
                if pushback is not None:
                    context.set_trailing_metadata((("grpc-retry-pushback-ms", pushback),))
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many concurrent streams")
        yield api_pb2.StreamResult(
            cid=CID,
            message_id=0,
            result=[
                api_pb2.InferenceResult(start_time="0.00", end_time="1.00", task="t", level=api_pb2.utterance)
            ],
        )

    return handler, calls


@pytest.fixture
def wav(tmp_path):
    return str(write_wav(tmp_path / "t.wav", tone_pcm(1.0)))


def test_resource_exhausted_waits_as_the_server_asks(wav):
    handler, calls = limited("300")
    with FakeServer(scripted(handler)) as srv:
        rc, lines, err = run(srv.address, wav)
    assert rc == 0, err
    (event,) = [x for x in lines if "event" in x]
    assert event["code"] == "RESOURCE_EXHAUSTED" and event["delay_seconds"] == 0.3
    assert event["max_attempts"] is None and len(calls) == 2


def test_resource_exhausted_without_a_hint_backs_off_longer(wav):
    handler, calls = limited(None, limit_calls=2)
    with FakeServer(scripted(handler)) as srv:
        rc, lines, err = run(srv.address, wav)
    assert rc == 0 and len(calls) == 3, err
    delays = [x["delay_seconds"] for x in lines if "event" in x]
    # base 0.01 s for a lost connection; 4x that for a limit, times a jitter of 0.5-1.0
    assert len(delays) == 2 and 0.02 <= delays[0] <= 0.04 and 0.04 <= delays[1] <= 0.08


def test_a_server_that_asks_not_to_retry_is_not_retried(wav):
    handler, calls = limited("-1")
    with FakeServer(scripted(handler)) as srv:
        rc, lines, err = run(srv.address, wav)
    assert rc == ExitStatus.SERVICE_ERROR and len(calls) == 1
    assert "the server asked not to retry" in err and not [x for x in lines if "event" in x]


class Diagnosed(Transport):
    """The real transport with the connection checks' answer fixed (and counted)."""

    def __init__(self, *args, answer: BsError | None, **kw) -> None:
        super().__init__(*args, **kw)
        self.answer = answer
        self.diagnosed = 0

    def diagnose(self, timeout: float) -> BsError | None:
        self.diagnosed += 1
        return self.answer

    def examine(self, timeout: float) -> tuple[BsError | None, str | None]:
        return self.diagnose(timeout), None


class Source:
    name = "s.wav"
    duration = 1.0

    def blocks(self):
        yield bytes(32000)

    def close(self) -> None:
        pass


def refuse_first(n: int):
    calls: list[int] = []

    def handler(requests, context):
        calls.append(1)
        if len(calls) <= n:
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection refused")
        for _ in requests:
            pass
        yield api_pb2.StreamResult(cid=CID, message_id=0)

    return handler, calls


@pytest.mark.parametrize(
    "answer", [None, ConnectionFailure("TLS: the server speaks plaintext", hint="add --insecure")]
)
def test_a_connection_that_never_answered_is_diagnosed_once(answer):
    handler, calls = refuse_first(3)
    options = StreamOptions(
        method="StreamAudio", credentials=Credentials(CID, KEY), config=build_config(), backoff_base=0.01
    )
    with (
        FakeServer(scripted(handler)) as srv,
        Diagnosed(parse_endpoint(srv.address), insecure=True, answer=answer) as transport,
    ):
        outcome = Session(transport, options).run(Source(), NullSink())
    assert transport.diagnosed == 1
    if answer is None:
        assert outcome.status == 0 and len(calls) == 4  # three refusals, then the stream
    else:
        assert outcome.status == ExitStatus.CONNECTION and len(calls) == 1  # final: never retried
        assert outcome.error == "s.wav: TLS: the server speaks plaintext (add --insecure)"


# ------------------------------------------------------------------------------ --retry-for


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("2m", 120), ("1m30s", 90), ("0", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-5", "soon", "5x", "m"])
def test_bad_durations(text):
    with pytest.raises(UsageError, match="--retry-for"):
        parse_duration(text)


def test_bad_retry_for_is_a_usage_error(wav):
    r = bsstream("analyze", wav, "--local", "--retry-for", "forever")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "--retry-for" in r.err
