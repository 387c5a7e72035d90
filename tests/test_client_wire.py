"""The client on the wire, against the strict recording fake (tests/fake_server.py)."""

from __future__ import annotations

import io
import json

import pytest

from bsstream.app import Streams, run_streams
from bsstream.settings import Credentials, parse_endpoint
from bsstream.status import ExitStatus
from tests.conftest import tone_pcm, write_wav
from tests.fake_server import CID, KEY, FakeServer, StrictServicer
from tests.runconfig import run_config


def run(server: FakeServer, inputs: list[str], **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    config = run_config(
        method=str(kw.pop("method", "StreamAudio")),
        inputs=inputs,
        credentials=Credentials(CID, KEY),
        endpoint=parse_endpoint(server.address),
        insecure=True,
        **kw,
    )
    rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def test_first_message_is_config_only_and_every_later_one_audio_only(server, testdata):
    rc, _, err = run(server, [str(testdata / "01_jfk_16k_mono_s16.wav")], json=True)
    assert rc == ExitStatus.SUCCESS, err
    (call,) = server.servicer.calls
    assert call.violations == []
    first = call.messages[0]
    assert first.cid == CID and first.x_auth_token == KEY
    assert first.config.encoding == 0 and first.config.sample_rate_hertz == 16000
    assert not first.config.HasField("level")
    assert not first.config.HasField("logits") and not first.config.HasField("feature_embedding")
    assert first.audio_content == b""
    for msg in call.messages[1:]:
        assert not msg.HasField("config")
        assert msg.cid == CID and msg.x_auth_token == KEY and msg.audio_content


@pytest.mark.parametrize(
    ("level", "logits", "embeddings"),
    [("segment", False, False), ("utterance", True, False), ("all", False, True)],
)
def test_config_fields_only_when_asked(server, tmp_path, level, logits, embeddings):
    wav = write_wav(tmp_path / "t.wav", tone_pcm(0.5))
    rc, _, _ = run(server, [str(wav)], level=level, logits=logits, embeddings=embeddings)
    assert rc == 0
    config = server.servicer.calls[0].messages[0].config
    assert config.HasField("level") == (level != "all")
    if level != "all":
        assert config.level == {"segment": 0, "utterance": 1}[level]
    assert config.HasField("logits") == logits
    assert config.HasField("feature_embedding") == embeddings


@pytest.mark.parametrize("chunk_ms", [100, 250, 333, 500])
def test_chunks_are_exact_and_total_equals_duration(server, tmp_path, chunk_ms):
    pcm = tone_pcm(1.2345)  # not a whole number of chunks, odd sample count
    wav = write_wav(tmp_path / "t.wav", pcm)
    rc, _, _ = run(server, [str(wav)], chunk_ms=chunk_ms)
    assert rc == 0
    chunks = server.servicer.calls[0].chunks
    assert all(len(c) == chunk_ms * 32 for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk_ms * 32 and len(chunks[-1]) % 2 == 0
    assert sum(map(len, chunks)) == len(pcm) == int(1.2345 * 16000) * 2


def test_real_speech_total_bytes(server, testdata):
    rc, _, _ = run(server, [str(testdata / "01_jfk_16k_mono_s16.wav")])
    assert rc == 0
    assert server.servicer.calls[0].audio_bytes == 11 * 32000


def test_tail_results_after_half_close_are_kept(server, testdata):
    rc, out, _ = run(server, [str(testdata / "01_jfk_16k_mono_s16.wav")], json=True)
    assert rc == 0
    lines = [json.loads(line) for line in out.splitlines()][1:-1]  # between the stream and end lines
    call = server.servicer.calls[0]
    assert call.half_closed
    assert len(lines) == call.responses_before_half_close + 2  # + empty message + tail
    tail = lines[-1]
    assert any(r["level"] == "utterance" and r["task"] == "gender" for r in tail["result"])


def test_json_lines_are_the_proto_mapping_with_source(server, testdata):
    path = str(testdata / "01_jfk_16k_mono_s16.wav")
    rc, out, err = run(server, [path], json=True)
    assert rc == 0
    lines = out.splitlines()[1:-1]  # between the stream and end lines
    first = json.loads(lines[0])
    assert list(first) == ["source", "cid", "pid", "message_id", "result"]
    assert first["message_id"] == 0 and first["source"] == path and first["cid"] == CID
    assert '"message_id":0' in lines[0]
    r0 = first["result"][0]
    assert r0["prediction"][1] == {"label": "happy", "posterior": "1e-04"}
    assert r0["prediction"][2] == {"label": "sad", "posterior": ""}
    assert first["result"][1]["final_label"] == "ñandú 😀"
    empty = json.loads(lines[-2])
    assert empty["result"] == []
    gender = json.loads(lines[-1])["result"][-1]
    assert gender["final_label"] == "" and gender["prediction"] == []
    assert KEY not in out + err


def test_plain_lines_when_not_a_tty(server, testdata):
    rc, out, _ = run(server, [str(testdata / "01_jfk_16k_mono_s16.wav")])
    assert rc == 0
    assert "0.00-2.00 segment emotion neutral 0.70" in out.splitlines()
    assert any("sarcasm_v2 ñandú 😀 0.90" in line for line in out.splitlines())


def test_several_inputs_in_order_tagged_with_source(server, tmp_path, testdata):
    a = write_wav(tmp_path / "a.wav", tone_pcm(0.6))
    b = str(testdata / "12_tts_orca_en_female_22k_mono_s16.wav")
    rc, out, _ = run(server, [str(a), b], json=True)
    assert rc == 0
    sources = [json.loads(line)["source"] for line in out.splitlines()]
    switch = sources.index(b)
    assert set(sources[:switch]) == {str(a)} and set(sources[switch:]) == {b}
    assert [c.method for c in server.servicer.calls] == ["StreamAudio", "StreamAudio"]


def test_deepfake_calls_its_method(server, tmp_path):
    wav = write_wav(tmp_path / "t.wav", tone_pcm(0.5))
    rc, _, _ = run(server, [str(wav)], method="DeepfakeDetection")
    assert rc == 0
    assert server.servicer.calls[0].method == "DeepfakeDetection"


def test_bad_input_among_good_ones_still_processes_the_others(server, tmp_path):
    good = write_wav(tmp_path / "good.wav", tone_pcm(0.5))
    rc, out, err = run(server, [str(tmp_path / "missing.wav"), str(good)], json=True)
    assert rc == ExitStatus.INPUT
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "missing.wav" in error
    assert "2 inputs: 1 input error, 1 ok" in err  # the end-of-run report
    assert json.loads(out.splitlines()[0])["source"] == str(good)


def test_first_chunk_leaves_before_a_long_file_is_decoded(tmp_path):
    """A 10-minute file: the server sees audio while the client is still reading."""
    servicer = StrictServicer(every=4)
    pcm = tone_pcm(1.0) * 600
    wav = write_wav(tmp_path / "long.wav", pcm)
    with FakeServer(servicer) as srv:
        rc, _, _ = run(srv, [str(wav)], realtime=False)
    assert rc == 0
    assert servicer.calls[0].audio_bytes == len(pcm)
    assert servicer.calls[0].responses_before_half_close > 100  # results flowed while streaming


def test_api_key_never_in_output(server, tmp_path):
    wav = write_wav(tmp_path / "t.wav", tone_pcm(0.3))
    for json_mode in (True, False):
        rc, out, err = run(server, [str(wav), str(tmp_path / "nope.wav")], json=json_mode, stats=True)
        assert rc == ExitStatus.INPUT
        assert KEY not in out and KEY not in err


def test_stats_line_in_json_mode(server, tmp_path):
    wav = write_wav(tmp_path / "t.wav", tone_pcm(2.0))
    rc, out, err = run(server, [str(wav)], json=True, stats=True)
    assert rc == 0
    last = json.loads(out.splitlines()[-2])  # then the end line
    assert json.loads(out.splitlines()[-1])["end"]["status"] == 0
    stats = last["stats"]
    assert stats["audio_seconds"] == pytest.approx(2.0)
    assert stats["results"] > 0 and stats["latency_p50"] is not None
    assert last["source"] == str(wav)
    assert "stats" not in err


def test_stats_on_stderr_otherwise(server, tmp_path):
    wav = write_wav(tmp_path / "t.wav", tone_pcm(2.0))
    rc, out, err = run(server, [str(wav)], stats=True)
    assert rc == 0
    assert "stats " in err and "real-time factor" in err and "p95" in err
    assert "stats" not in out
