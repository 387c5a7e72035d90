"""The emulator at the raw gRPC level, with a bare client like the vendor's documented one."""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.emulator import EMULATOR_METADATA, Emulator
from tests.conftest import tone_pcm
from tests.test_emulator_support import CID, TOKEN, audio, call, config, load_wav, resample, stream

BEHAVIORAL_TASKS = {
    "gender",
    "age",
    "emotion",
    "strength",
    "positivity",
    "speaking_rate",
    "hesitation",
    "engagement",
    "politeness",
    "language",
    "features",
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def jfk(testdata: Path) -> bytes:
    pcm, rate = load_wav(testdata / "01_jfk_16k_mono_s16.wav")
    assert rate == 16000
    return pcm


@pytest.fixture(scope="module")
def jfk_result(emu: Emulator, jfk: bytes) -> object:
    return call(emu.address, stream(jfk))


def test_address_and_port(emu: Emulator) -> None:
    assert emu.port > 0
    assert emu.address == f"127.0.0.1:{emu.port}"


# ---------------------------------------------------------------- protocol violations


def test_first_message_without_config(emu: Emulator, jfk: bytes) -> None:
    out = call(emu.address, audio(jfk[:16000]))
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "first message must carry config" in out.details
    assert out.metadata.get(EMULATOR_METADATA[0]) == EMULATOR_METADATA[1]


def test_first_message_with_audio(emu: Emulator) -> None:
    first = config()
    first.audio_content = b"\x00\x01" * 100
    out = call(emu.address, [first])
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "must not carry audio_content" in out.details


def test_config_in_a_later_message(emu: Emulator, jfk: bytes) -> None:
    out = call(emu.address, [config(), *audio(jfk[:16000]), config()])
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "only in the first message" in out.details
    log = emu.wait_for_calls(len(emu.calls))[-1]
    assert log.code == "INVALID_ARGUMENT" and log.audio_messages == 2


def test_unsupported_encoding(emu: Emulator) -> None:
    out = call(emu.address, [config(encoding=3)])
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "LINEAR_PCM" in out.details


@pytest.mark.parametrize("rate", [0, -16000])
def test_non_positive_sample_rate(emu: Emulator, rate: int) -> None:
    out = call(emu.address, [config(rate)])
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "sample_rate_hertz" in out.details


def test_unknown_level_value(emu: Emulator) -> None:
    msg = config()
    msg.config.level = 7  # type: ignore[assignment]  # an open enum accepts unknown numbers
    out = call(emu.address, [msg])
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT


def test_no_messages_at_all_is_ok(emu: Emulator) -> None:
    out = call(emu.address, [])
    assert out.code == grpc.StatusCode.OK and out.responses == []


def test_config_only_is_ok_without_results(emu: Emulator) -> None:
    out = call(emu.address, [config()])
    assert out.code == grpc.StatusCode.OK and out.responses == []
    assert out.metadata.get("bsstream-emulator") == "1"


# ---------------------------------------------------------------- credentials


@pytest.mark.parametrize(("cid", "token"), [(0, TOKEN), (CID, "")])
def test_missing_credentials_on_the_first_message(emu: Emulator, cid: int, token: str) -> None:
    out = call(emu.address, [config(cid=cid, token=token)])
    assert out.code == grpc.StatusCode.UNAUTHENTICATED
    assert "cid" in out.details and "x_auth_token" in out.details


def test_missing_token_on_a_later_message(emu: Emulator, jfk: bytes) -> None:
    msgs = [config(), *audio(jfk[:16000]), *audio(jfk[:8000], token="")]
    out = call(emu.address, msgs)
    assert out.code == grpc.StatusCode.UNAUTHENTICATED


def test_any_credentials_accepted_without_configuration(emu: Emulator, jfk: bytes) -> None:
    out = call(emu.address, [config(cid=5, token="whatever"), *audio(jfk[:64000], cid=5, token="whatever")])
    assert out.code == grpc.StatusCode.OK


@pytest.fixture(scope="module")
def locked() -> Iterator[Emulator]:
    with Emulator(cid=42, api_key="s3cr3t-KEY-value") as emulator:
        yield emulator


def test_configured_credentials_accept_the_right_pair(locked: Emulator, jfk: bytes) -> None:
    msgs = [config(cid=42, token="s3cr3t-KEY-value"), *audio(jfk, cid=42, token="s3cr3t-KEY-value")]
    out = call(locked.address, msgs)
    assert out.code == grpc.StatusCode.OK and out.responses


@pytest.mark.parametrize(("cid", "token"), [(43, "s3cr3t-KEY-value"), (42, "wrong"), (42, "s3cr3t-KEY-valu")])
def test_configured_credentials_reject_others(locked: Emulator, cid: int, token: str) -> None:
    out = call(locked.address, [config(cid=cid, token=token)])
    assert out.code == grpc.StatusCode.UNAUTHENTICATED
    assert "s3cr3t" not in out.details


def test_wrong_key_on_a_later_message(locked: Emulator, jfk: bytes) -> None:
    msgs = [
        config(cid=42, token="s3cr3t-KEY-value"),
        *audio(jfk[:16000], cid=42, token="s3cr3t-KEY-value"),
        *audio(jfk[:8000], cid=42, token="guess"),
    ]
    out = call(locked.address, msgs)
    assert out.code == grpc.StatusCode.UNAUTHENTICATED
    log = locked.wait_for_calls(len(locked.calls))[-1]
    assert log.code == "UNAUTHENTICATED"
    assert "s3cr3t" not in repr(log) and "guess" not in repr(log)
    assert log.credentials[-1] == (42, "guess")


# ---------------------------------------------------------------- results: shape and numbering


def test_response_numbering_and_ids(emu: Emulator, jfk_result: object, jfk: bytes) -> None:
    out = jfk_result
    assert out.code == grpc.StatusCode.OK  # type: ignore[attr-defined]
    msgs = out.responses  # type: ignore[attr-defined]
    assert [m.message_id for m in msgs] == list(range(len(msgs)))
    assert {m.cid for m in msgs} == {CID}
    assert len({m.pid for m in msgs}) == 1 and msgs[0].pid > 0
    other = call(emu.address, stream(jfk[:96000]))
    assert other.responses and other.responses[0].pid != msgs[0].pid


def test_times_posteriors_and_tasks(jfk_result: object) -> None:
    results = jfk_result.results  # type: ignore[attr-defined]
    assert results
    for r in results:
        assert re.fullmatch(r"\d+\.\d\d", r.start_time) and re.fullmatch(r"\d+\.\d\d", r.end_time)
        assert float(r.start_time) < float(r.end_time) <= 11.0
        assert r.id.isdigit()
        assert r.HasField("level")
        if r.task == "features":
            assert r.final_label == "" and len(r.prediction) == 0 and not r.HasField("embedding")
            continue
        assert sum(Decimal(p.posterior) for p in r.prediction) == Decimal(1)
        assert r.final_label == max(r.prediction, key=lambda p: float(p.posterior)).label
        assert all(not p.HasField("logit") for p in r.prediction)
    assert {r.task for r in results} == BEHAVIORAL_TASKS


def test_each_response_is_one_window_with_every_task(jfk_result: object) -> None:
    for msg in jfk_result.responses:  # type: ignore[attr-defined]
        keys = {(r.id, r.start_time, r.end_time, r.level) for r in msg.result}
        assert len(keys) == 1
        assert [r.task for r in msg.result].count("gender") == 1
        assert {r.task for r in msg.result} == BEHAVIORAL_TASKS


def test_level_unset_gives_both_levels(jfk_result: object) -> None:
    levels = [api_pb2.Level.Name(r.level) for r in jfk_result.results]  # type: ignore[attr-defined]
    assert set(levels) == {"segment", "utterance"}


@pytest.mark.parametrize("level", ["segment", "utterance"])
def test_level_filter(emu: Emulator, jfk: bytes, jfk_result: object, level: str) -> None:
    out = call(emu.address, stream(jfk, level=level))
    assert out.code == grpc.StatusCode.OK and out.results
    assert {api_pb2.Level.Name(r.level) for r in out.results} == {level}
    assert out.windows() == jfk_result.windows(level)  # type: ignore[attr-defined]
    ids = [int(w[0]) for w in out.windows()]
    assert ids == list(range(len(ids)))


def test_utterances_cover_the_speech(jfk_result: object) -> None:
    utts = jfk_result.windows("utterance")  # type: ignore[attr-defined]
    segs = jfk_result.windows("segment")  # type: ignore[attr-defined]
    assert 2 <= len(utts) <= 6
    for _, start, end, _ in segs:
        assert any(float(u[1]) <= float(start) and float(end) <= float(u[2]) for u in utts)
    full = [w for w in segs if float(w[2]) - float(w[1]) >= 1.995]
    assert full and all(round(float(e) - float(s), 2) >= 2.0 for _, s, e, _ in full)


def test_logits(emu: Emulator, jfk: bytes) -> None:
    out = call(emu.address, stream(jfk[:128000], logits=True))
    preds = [r for r in out.results if r.task != "features"]
    assert preds
    for r in preds:
        assert all(p.HasField("logit") for p in r.prediction)
        exps = [math.exp(float(p.logit)) for p in r.prediction]
        for p, e in zip(r.prediction, exps, strict=True):
            assert e / sum(exps) == pytest.approx(float(p.posterior), abs=2e-3)


def test_feature_embedding(emu: Emulator, jfk: bytes) -> None:
    out = call(emu.address, stream(jfk[:128000], embedding=True))
    feats = [r for r in out.results if r.task == "features"]
    assert feats
    for r in feats:
        values = json.loads(r.embedding)
        assert len(values) == 728 and all(isinstance(v, float) for v in values)  # the vendor SDK's size
        assert r.final_label == "" and len(r.prediction) == 0


def test_deepfake_method(emu: Emulator, testdata: Path, jfk: bytes) -> None:
    tts, rate = load_wav(testdata / "12_tts_orca_en_female_22k_mono_s16.wav")
    fake = call(emu.address, stream(tts, rate), method="DeepfakeDetection")
    real = call(emu.address, stream(jfk), method="DeepfakeDetection")
    for out in (fake, real):
        assert out.code == grpc.StatusCode.OK and out.results
        assert {r.task for r in out.results} == {"deepfake"}
        for r in out.results:
            assert {p.label for p in r.prediction} == {"bonafide", "spoofed"}
    assert set(fake.labels("deepfake")) == {"spoofed"}
    assert set(real.labels("deepfake")) == {"bonafide"}
    assert emu.wait_for_calls(len(emu.calls))[-1].method == "DeepfakeDetection"


# ---------------------------------------------------------------- VAD


@pytest.mark.parametrize(
    "pcm",
    [pytest.param(bytes(32000 * 4), id="digital-zero"), pytest.param(tone_pcm(4, freq=440.0), id="sine-440")],
)
def test_non_speech_gives_no_results(emu: Emulator, pcm: bytes) -> None:
    out = call(emu.address, stream(pcm))
    assert out.code == grpc.StatusCode.OK
    assert out.responses == []


def test_silence_around_speech_is_not_reported(emu: Emulator, jfk: bytes) -> None:
    padded = bytes(32000 * 3) + jfk + bytes(32000 * 3)
    out = call(emu.address, stream(padded, level="utterance"))
    starts = [float(w[1]) for w in out.windows()]
    ends = [float(w[2]) for w in out.windows()]
    assert starts and min(starts) >= 3.0 and max(ends) <= 14.05


# ---------------------------------------------------------------- audio handling


def test_odd_byte_counts_give_the_same_results(emu: Emulator, jfk: bytes, jfk_result: object) -> None:
    out = call(emu.address, stream(jfk + b"\x01", chunk=7999))
    assert out.code == grpc.StatusCode.OK
    assert [list(m.result) for m in out.responses] == [
        list(m.result)
        for m in jfk_result.responses  # type: ignore[attr-defined]
    ]
    log = emu.wait_for_calls(len(emu.calls))[-1]
    assert log.total_audio_bytes == len(jfk) + 1 and set(log.chunk_sizes[:-1]) == {7999}


@pytest.mark.parametrize("rate", [8000, 44100])
def test_other_sample_rates_are_resampled(emu: Emulator, jfk: bytes, jfk_result: object, rate: int) -> None:
    pcm = resample(jfk, 16000, rate)
    out = call(emu.address, stream(pcm, rate, chunk=int(rate * 0.25) * 2, level="utterance"))
    ref = jfk_result.windows("utterance")  # type: ignore[attr-defined]
    got = out.windows()
    assert len(got) == len(ref)
    for a, b in zip(got, ref, strict=True):
        assert abs(float(a[1]) - float(b[1])) <= 0.1 and abs(float(a[2]) - float(b[2])) <= 0.15


def test_native_44k1_and_8k_recordings(emu: Emulator, testdata: Path) -> None:
    for name in ("g_vctk_p286_44k1_stereo_s16.wav", "10_voxconverse_aepyx_8k_mono_s16_169s.wav"):
        pcm, rate = load_wav(testdata / name)
        pcm = pcm[: rate * 2 * 20]
        out = call(emu.address, stream(pcm, rate, chunk=int(rate * 0.25) * 2))
        assert out.code == grpc.StatusCode.OK and out.results, name


def test_determinism(emu: Emulator, jfk: bytes, jfk_result: object) -> None:
    again = call(emu.address, stream(jfk, chunk=3200))
    assert [list(m.result) for m in again.responses] == [
        list(m.result)
        for m in jfk_result.responses  # type: ignore[attr-defined]
    ]


# ---------------------------------------------------------------- streaming timing


def test_results_arrive_before_the_client_half_closes(emu: Emulator, jfk: bytes) -> None:
    first_response = threading.Event()
    half_closed = threading.Event()

    def requests() -> Iterator[api_pb2.AudioStream]:
        yield config(level="segment")
        yield from audio(jfk[: 32000 * 4])  # 4 s: JFK's first 2 s of speech end by about 2.1 s
        first_response.wait(10)  # hold the stream open until a result came back
        yield from audio(jfk[32000 * 4 :])
        half_closed.set()

    closed_at_first_response = []
    with grpc.insecure_channel(emu.address) as channel:
        rpc = api_pb2_grpc.BehavioralStreamingApiStub(channel).StreamAudio(requests(), timeout=30)
        for n, msg in enumerate(rpc):
            if n == 0:
                closed_at_first_response.append(half_closed.is_set())
                assert float(msg.result[0].end_time) <= 4.0
                first_response.set()
        assert rpc.code() == grpc.StatusCode.OK
    assert closed_at_first_response == [False]
    assert half_closed.is_set()
