"""The emulator under attack: idle streams, a flood of calls, huge messages, many calls.

Real clients on loopback (the generated stubs), against ``bsstream serve`` as a subprocess where
the property is about the server process (threads, memory), in-process otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from click.testing import CliRunner

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.emulator import Emulator, analysis, cli, server
from tests.test_emulator_support import CID, TOKEN, audio, call, config, load_wav, stream

LISTENING = re.compile(r"^listening on 127\.0\.0\.1:(\d+) \(plaintext\)$")


class Serve:
    """``bsstream serve`` in its own process (so its memory and threads are its own)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bsstream", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        match = LISTENING.match(line)
        assert match, line
        self.address = f"127.0.0.1:{match.group(1)}"

    def status(self, key: str) -> int:
        """A number from /proc/PID/status (VmRSS, VmHWM in kB; Threads)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


@pytest.fixture()
def serve_factory() -> Iterator[type[Serve]]:
    started: list[Serve] = []

    class Tracked(Serve):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture(scope="module")
def jfk(testdata: Path) -> bytes:
    return load_wav(testdata / "01_jfk_16k_mono_s16.wav")[0]


def _open_idle(stub: api_pb2_grpc.BehavioralStreamingApiStub, n: int, release: threading.Event) -> list:
    """N calls that send their config and then nothing (no half-close) until ``release``."""

    def idle() -> Iterator[api_pb2.AudioStream]:
        yield config()
        release.wait()

    calls = [stub.StreamAudio(idle()) for _ in range(n)]
    for c in calls:  # the server sends initial metadata as each handler starts: all are open
        assert dict(c.initial_metadata()).get("bsstream-emulator") == "1"
    return calls


def _outcome(rpc: object) -> tuple[grpc.StatusCode, str]:
    try:
        for _ in rpc:  # type: ignore[attr-defined]
            pass
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def test_a_new_client_is_served_beside_200_idle_streams(serve_factory: type[Serve], jfk: bytes) -> None:
    served = serve_factory()
    release = threading.Event()
    with grpc.insecure_channel(served.address) as channel:
        stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)
        try:
            idle = _open_idle(stub, 200, release)
            out = call(served.address, stream(jfk), timeout=20)  # generous: it takes well under 1 s
            assert out.code == grpc.StatusCode.OK, out.details
            assert out.results
            assert not any(c.done() for c in idle)  # all 200 were open throughout
            assert served.status("Threads") < 50  # an idle call holds no thread
        finally:
            release.set()
        assert {_outcome(c)[0] for c in idle} == {grpc.StatusCode.OK}  # half-closed: they end OK
    assert "limits: 256 calls at once, idle limit 30 s" in served.stop()


def test_idle_streams_end_with_deadline_exceeded(serve_factory: type[Serve], jfk: bytes) -> None:
    served = serve_factory("--idle-timeout", "1")
    release = threading.Event()
    steady = threading.Event()

    def slow() -> Iterator[api_pb2.AudioStream]:
        """Messages 0.3 s apart for 1.5 s: longer than the limit in total, never idle that long."""
        yield config()
        for i in range(5):
            steady.wait(0.3)
            yield next(audio(jfk[i * 8000 : (i + 1) * 8000]))

    with grpc.insecure_channel(served.address) as channel:
        stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)
        try:
            idle = _open_idle(stub, 200, release)
            alive = stub.StreamAudio(slow())
            outcomes = [_outcome(c) for c in idle]
            assert _outcome(alive) == (grpc.StatusCode.OK, "")
        finally:
            release.set()
    assert {code for code, _ in outcomes} == {grpc.StatusCode.DEADLINE_EXCEEDED}
    assert all("no message for 1 s" in details and "idle limit" in details for _, details in outcomes)
    served.stop()


def test_the_call_over_the_limit_is_refused_at_once(jfk: bytes) -> None:
    release = threading.Event()
    with Emulator(max_calls=3) as emu, grpc.insecure_channel(emu.address) as channel:
        stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)
        try:
            held = _open_idle(stub, 3, release)
            try:
                list(stub.StreamAudio(stream(jfk[:8000]), timeout=10))
                pytest.fail("the fourth call was served")
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "too many calls at once" in (exc.details() or "")
                assert ("grpc-retry-pushback-ms", "1000") in tuple(exc.trailing_metadata() or ())
            assert emu.calls[-1].code == "RESOURCE_EXHAUSTED" and emu.active_calls == 3
        finally:
            release.set()
        assert all(_outcome(c)[0] == grpc.StatusCode.OK for c in held)
        assert call(emu.address, stream(jfk)).code == grpc.StatusCode.OK  # a freed slot serves again


def test_a_message_over_the_limit_is_refused(jfk: bytes) -> None:
    limit = server.MAX_MESSAGE_BYTES
    with Emulator() as emu:
        big = call(emu.address, [config(), *audio(b"\0" * limit, chunk=limit)])
        assert big.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in big.details
        # the largest message that fits (field tags and credentials take a few bytes)
        fits = call(emu.address, [config(), *audio(b"\0" * (limit - 64), chunk=limit)])
        assert fits.code == grpc.StatusCode.OK
        calls = emu.wait_for_calls(2)
    # gRPC cut the first call before the handler saw the message (its log code is racy: the
    # handler sees the stream end, and the cancellation may or may not reach it first)
    assert calls[0].audio_messages == 0 and calls[0].total_audio_bytes == 0
    assert calls[1].code == "OK" and calls[1].total_audio_bytes == limit - 64


def test_memory_stays_bounded_for_a_huge_message_at_a_low_rate(serve_factory: type[Serve]) -> None:
    """3.9 MB at a declared 1 kHz is 32 minutes of audio (31 M samples at 16 kHz): once 6 GB RSS.

    The content does not matter to the memory (silence is just the cheapest to analyse).
    """
    served = serve_factory()
    pcm = bytes(3_900_000)
    before = served.status("VmRSS")
    out = call(served.address, [config(1000), *audio(pcm, chunk=len(pcm))], timeout=60)
    assert out.code == grpc.StatusCode.OK, out.details
    peak = served.status("VmHWM")
    assert peak < 300 * 1024, (before, peak)
    served.stop()


def test_call_logs_are_bounded(jfk: bytes) -> None:
    with Emulator(keep_calls=5) as emu:
        for _ in range(12):
            assert call(emu.address, [config()]).code == grpc.StatusCode.OK
        calls = emu.wait_for_calls(12)
        assert len(calls) == 5 and [c.seq for c in calls] == list(range(8, 13))
        n = server.LOGGED_MESSAGES + 40
        out = call(emu.address, stream(jfk[: n * 100], chunk=100))
        assert out.code == grpc.StatusCode.OK
        log = emu.wait_for_calls(13)[-1]
    assert log.audio_messages == n and log.total_audio_bytes == n * 100 and log.messages == n + 1
    assert log.chunk_sizes == [100] * server.LOGGED_MESSAGES
    assert log.credentials == [(CID, TOKEN)] * server.LOGGED_MESSAGES


def test_analysis_steps_are_bounded_and_change_nothing(jfk: bytes) -> None:
    x = np.frombuffer(jfk, dtype="<i2")
    pcm8k = x[::2].astype("<i2").tobytes()
    whole = analysis.StreamAnalyzer(8000)
    assert whole.step_bytes == 2 * 8000 * analysis.MAX_STEP_SECONDS
    one = whole.feed(pcm8k) + whole.finish()
    assert one == list(analysis.analyze_all(pcm8k, 8000, chunk=4000))
    assert any(w.kind == analysis.UTTERANCE for w in one)


def test_an_utterance_is_closed_at_the_longest_length() -> None:
    seg = analysis.Segmenter(segments=False, utterances=True)
    rng = np.random.default_rng(7)
    out: list[analysis.Window] = []
    for i in range(analysis.MAX_UTTERANCE_FRAMES + 500):  # continuous "speech", no pause at all
        out += seg.push(i, True, -20.0 + 6 * rng.standard_normal(), 120.0 + 20 * rng.standard_normal(), 0.9)
    out += seg.finish()
    assert [(w.start, w.end) for w in out] == [
        (0.0, analysis.MAX_UTTERANCE_FRAMES * analysis.FRAME_SECONDS),
        (60.0, (analysis.MAX_UTTERANCE_FRAMES + 500) * analysis.FRAME_SECONDS),
    ]


def test_limit_options_and_defaults() -> None:
    assert cli.IDLE_TIMEOUT_DEFAULT == server.DEFAULT_IDLE_SECONDS
    assert cli.MAX_CALLS_DEFAULT == server.DEFAULT_MAX_CALLS
    help_text = CliRunner().invoke(cli.serve_command, ["--help"]).output
    assert "--idle-timeout" in help_text and "--max-calls" in help_text
    for bad in (["--idle-timeout", "-1"], ["--max-calls", "0"]):
        assert CliRunner().invoke(cli.serve_command, bad).exit_code == 2
    with pytest.raises(ValueError):
        Emulator(idle_timeout=0)
    assert Emulator(idle_timeout=None).describe_limits().startswith("256 calls at once, idle limit none")
