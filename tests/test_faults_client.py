"""Failures on the wire, against purpose-built strict fakes: exit codes, stderr lines, and that
nothing received goes missing from the output."""

from __future__ import annotations

import io
import json
import threading

import grpc
import pytest

from bsstream._gen import api_pb2
from bsstream.app import Streams, run_streams
from bsstream.settings import Credentials, parse_endpoint
from bsstream.status import ExitStatus
from tests.conftest import tone_pcm, write_wav
from tests.fake_server import CID, KEY, FakeServer, scripted
from tests.runconfig import run_config


def result(
    start: float, end: float, task: str = "emotion", label: str = "neutral"
) -> api_pb2.InferenceResult:
    return api_pb2.InferenceResult(
        id="1",
        start_time=f"{start:.2f}",
        end_time=f"{end:.2f}",
        task=task,
        final_label=label,
        prediction=[api_pb2.Prediction(label=label, posterior="0.8")],
        level=api_pb2.segment,
    )


def run(address: str, inputs: list[str], **kw: object) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("retries", 0)
    kw.setdefault("backoff_base", 0.01)
    config = run_config(
        method="StreamAudio",
        inputs=inputs,
        credentials=Credentials(CID, KEY),
        endpoint=parse_endpoint(address),
        insecure=True,
        json=True,
        **kw,
    )
    rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    if records:  # each input's stream line first and its end line last; the rest in between
        assert "stream" in records[0] and "end" in records[-1], records
    return rc, [r for r in records if "stream" not in r and "end" not in r], err.getvalue()


def abort_after(chunks: int, code: grpc.StatusCode, details: str, results: int = 2):
    def handler(requests, context):
        for i, _ in enumerate(requests):
            if i == chunks:
                break
        for k in range(results):
            yield api_pb2.StreamResult(cid=CID, pid=1, message_id=k, result=[result(2 * k, 2 * k + 2)])
        context.abort(code, details)

    return handler


@pytest.fixture
def wav(tmp_path):
    return str(write_wav(tmp_path / "speech.wav", tone_pcm(10.0)))


@pytest.mark.parametrize(
    ("code", "exit_status", "hint"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, ExitStatus.AUTH, "--api-key"),
        (grpc.StatusCode.PERMISSION_DENIED, ExitStatus.AUTH, "access"),
        (grpc.StatusCode.INVALID_ARGUMENT, ExitStatus.SERVICE_ERROR, "rejected"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ExitStatus.SERVICE_ERROR, "quota"),
        (grpc.StatusCode.INTERNAL, ExitStatus.SERVICE_ERROR, "service"),
        (grpc.StatusCode.UNAVAILABLE, ExitStatus.CONNECTION, "retry"),
    ],
)
def test_mid_stream_abort_keeps_results_and_maps_exit_code(wav, code, exit_status, hint):
    with FakeServer(scripted(abort_after(8, code, "boom"))) as srv:
        rc, lines, err = run(srv.address, [wav])
    assert rc == exit_status
    assert [line["message_id"] for line in lines] == [0, 1]  # both results kept
    (line,) = err.strip().splitlines()
    assert code.name in line and "boom" in line and hint in line and wav in line
    assert KEY not in err


def test_refused_connection(wav):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    rc, lines, err = run(f"127.0.0.1:{port}", [wav])
    assert rc == ExitStatus.CONNECTION and lines == []
    assert "UNAVAILABLE" in err and "check --endpoint" in err
    assert len(err.strip().splitlines()) == 1


def test_a_refused_first_connection_says_why_while_it_retries(wav):
    """A mistyped port: the first reconnect line says at once what the checks see and how long
    it goes on trying, instead of a bare UNAVAILABLE and a silent wait for --retry-for."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    rc, lines, err = run(f"127.0.0.1:{port}", [wav], retries=None, retry_for=1.0)
    assert rc == ExitStatus.CONNECTION
    first = err.splitlines()[0]
    assert first.startswith(f"{wav}: UNAVAILABLE (cannot connect to 127.0.0.1:{port}: connection refused")
    assert "(attempt 1, for up to 1 s)" in first
    (event,) = [line for line in lines if line.get("event") == "reconnect"]
    assert "reason" not in event  # the JSON event keeps its fields
    assert "check the port" in err.splitlines()[-1]  # and the final line still says it


def test_hang_with_timeout(wav):
    release = threading.Event()

    def hang(requests, context):
        yield api_pb2.StreamResult(cid=CID, pid=1, message_id=0, result=[result(0, 2)])
        release.wait(10)  # neither reads nor answers

    with FakeServer(scripted(hang)) as srv:
        rc, lines, err = run(srv.address, [wav], timeout=0.5)
        release.set()
    assert rc == ExitStatus.CONNECTION
    assert [line["message_id"] for line in lines] == [0]
    assert "no response from the server for 0.5 s" in err


def test_slow_responses_are_all_kept(wav):
    def slow(requests, context):
        n = 0
        for i, _ in enumerate(requests):
            if i and i % 8 == 0:
                threading.Event().wait(0.05)
                yield api_pb2.StreamResult(cid=CID, pid=1, message_id=n, result=[result(n * 2, n * 2 + 2)])
                n += 1
        threading.Event().wait(0.3)
        yield api_pb2.StreamResult(
            cid=CID, pid=1, message_id=n, result=[result(0, 10, level_task := "gender")]
        )
        del level_task

    with FakeServer(scripted(slow)) as srv:
        rc, lines, _ = run(srv.address, [wav], timeout=5)
    assert rc == 0
    assert [line["message_id"] for line in lines] == list(range(len(lines)))
    assert lines[-1]["result"][0]["task"] == "gender"


def test_server_closing_early_without_error(tmp_path):
    # long enough that the client cannot have sent it all into flow-control windows
    wav = str(write_wav(tmp_path / "long.wav", bytes(300 * 32000)))

    def early(requests, context):
        for i, _ in enumerate(requests):
            if i == 4:
                break
        yield api_pb2.StreamResult(cid=CID, pid=1, message_id=0, result=[result(0, 1)])

    with FakeServer(scripted(early)) as srv:
        rc, lines, err = run(srv.address, [wav])
    assert rc == ExitStatus.SERVICE_ERROR
    assert len(lines) == 1
    assert "ended the stream early" in err


def test_odd_but_legal_responses(wav):
    huge = "x" * 100_000

    def odd(requests, context):
        for _ in requests:
            pass
        yield api_pb2.StreamResult(cid=CID, pid=1, message_id=0)
        yield api_pb2.StreamResult(
            cid=CID,
            pid=1,
            message_id=1,
            result=[
                api_pb2.InferenceResult(
                    task="never-seen-task",
                    start_time="abc",
                    end_time="",
                    final_label=huge,
                    prediction=[api_pb2.Prediction(label=huge, posterior="nan")],
                ),
                api_pb2.InferenceResult(
                    task="",
                    start_time="-1",
                    end_time="1e309",
                    final_label="",
                    prediction=[api_pb2.Prediction(label="ok")],
                    level=7,
                ),  # type: ignore[arg-type]
            ],
        )

    with FakeServer(scripted(odd)) as srv:
        for json_mode in (True, False):
            out, err = io.StringIO(), io.StringIO()
            config = run_config(
                method="StreamAudio",
                inputs=[wav],
                credentials=Credentials(CID, KEY),
                endpoint=parse_endpoint(srv.address),
                insecure=True,
                json=json_mode,
                retries=0,
            )
            rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
            assert rc == 0, err.getvalue()
            if json_mode:
                lines = [json.loads(x) for x in out.getvalue().splitlines()][1:-1]  # not stream, end
                assert lines[0]["result"] == [] and lines[1]["result"][0]["final_label"] == huge
                assert lines[1]["result"][1]["level"] == "7"
            else:
                assert "never-seen-task" in out.getvalue()


class Resumable:
    """First call: results up to 4 s, then UNAVAILABLE. Later calls: record where the audio
    restarts and answer in their own (relative) time, repeating one window already sent."""

    def __init__(self, fail_calls: int = 1) -> None:
        self.calls = 0
        self.fail_calls = fail_calls
        self.first_chunks: list[bytes] = []
        self.audio: list[int] = []

    def __call__(self, requests, context):
        self.calls += 1
        call = self.calls
        received = 0
        first = None
        for i, msg in enumerate(requests):
            if i == 0:
                continue
            if first is None:
                first = msg.audio_content
            received += len(msg.audio_content)
            if call <= self.fail_calls and received >= 5 * 32000:
                break
        self.first_chunks.append(first or b"")
        self.audio.append(received)
        if call <= self.fail_calls:
            yield api_pb2.StreamResult(cid=CID, pid=call, message_id=0, result=[result(0, 2)])
            yield api_pb2.StreamResult(cid=CID, pid=call, message_id=1, result=[result(2, 4)])
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset by peer")
        yield api_pb2.StreamResult(cid=CID, pid=call, message_id=0, result=[result(0, 2)])
        yield api_pb2.StreamResult(cid=CID, pid=call, message_id=1, result=[result(2, 4)])


def test_reconnect_resumes_from_last_result_with_absolute_times(tmp_path):
    pcm = bytes(range(256)) * 1250  # 10 s of recognisable bytes
    wav = str(write_wav(tmp_path / "r.wav", pcm))
    handler = Resumable()
    with FakeServer(scripted(handler)) as srv:
        # segment results only: a resume starts at the end of the last result (with utterance
        # results expected it starts at the last utterance's end: tests/test_reconnect_proxy.py)
        rc, lines, err = run(srv.address, [wav], retries=3, level="segment")
    assert rc == 0, err
    assert handler.calls == 2
    resume_at = 4 * 32000
    assert handler.first_chunks[1] == pcm[resume_at : resume_at + 8000]  # replayed from 4.00 s
    assert handler.audio[1] == len(pcm) - resume_at
    events = [line for line in lines if "event" in line]
    assert events == [
        {
            "event": "reconnect",
            "source": wav,
            "attempt": 1,
            "max_attempts": 3,
            "code": "UNAVAILABLE",
            "resume_from": 4.0,
            "audio_lost_seconds": 0.0,
            "delay_seconds": events[0]["delay_seconds"],
        }
    ]
    windows = [(r["start_time"], r["end_time"]) for line in lines if "result" in line for r in line["result"]]
    assert windows == [("0.00", "2.00"), ("2.00", "4.00"), ("4.00", "6.00"), ("6.00", "8.00")]
    assert "reconnecting" in err and "attempt 1/3" in err and "resuming at 4.00 s" in err


def test_retries_exhausted_say_how_far_the_stream_got(tmp_path):
    # long enough that every resumed call's results lie inside the audio (a real server's would)
    wav = str(write_wav(tmp_path / "r.wav", tone_pcm(20.0)))
    handler = Resumable(fail_calls=10)
    with FakeServer(scripted(handler)) as srv:
        rc, lines, err = run(srv.address, [wav], retries=2, level="segment")
    assert rc == ExitStatus.CONNECTION
    assert handler.calls == 3  # the first call + 2 retries, never more
    assert sum(1 for line in lines if line.get("event") == "reconnect") == 2
    assert "gave up after 2 reconnects" in err and "results up to 12.00 s" in err
    starts = [r["start_time"] for line in lines if "result" in line for r in line["result"]]
    assert starts == ["0.00", "2.00", "4.00", "6.00", "8.00", "10.00"]  # each call resumed at the last end


def test_no_retry_on_auth_failure(wav):
    calls = []

    def deny(requests, context):
        calls.append(1)
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        yield

    with FakeServer(scripted(deny)) as srv:
        rc, _, _ = run(srv.address, [wav], retries=3)
    assert rc == ExitStatus.AUTH and len(calls) == 1


def test_a_bogus_result_time_cannot_make_a_resume_skip_audio(tmp_path):
    wav = str(write_wav(tmp_path / "r.wav", bytes(300 * 32000)))  # longer than flow-control windows
    first_chunks: list[bytes] = []

    def handler(requests, context):
        first = None
        received = 0
        for i, msg in enumerate(requests):
            if i == 0:
                continue
            first = first or msg.audio_content
            received += len(msg.audio_content)
            if not first_chunks and received >= 3 * 32000:
                break
        first_chunks.append(first or b"")
        if len(first_chunks) == 1:
            yield api_pb2.StreamResult(
                cid=CID,
                pid=1,
                message_id=0,
                result=[
                    api_pb2.InferenceResult(task="t", start_time="0.00", end_time="99999", final_label="x")
                ],
            )
            context.abort(grpc.StatusCode.UNAVAILABLE, "reset")

    with FakeServer(scripted(handler)) as srv:
        rc, lines, err = run(srv.address, [wav], retries=1)
    assert rc == 0, err
    (event,) = [x for x in lines if "event" in x]
    assert event["resume_from"] < 300.0  # clamped to the audio actually sent, not 99999
    assert len(first_chunks) == 2 and first_chunks[1] != b""  # the resumed call got audio
