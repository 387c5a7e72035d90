"""bsstream scan: one decode, both methods at once, one merged output."""

from __future__ import annotations

import io
import json

import grpc

from bsstream.app import RunConfig, Streams, run_streams
from bsstream.engine.options import Options
from bsstream.settings import Credentials, parse_endpoint
from bsstream.status import ExitStatus
from tests.clirun import bsstream
from tests.fake_server import CID, KEY, FakeServer, StrictServicer


def test_scan_against_the_emulator_returns_both_methods(testdata, tmp_path):
    wav = str(testdata / "12_tts_orca_en_female_22k_mono_s16.wav")
    html = tmp_path / "scan.html"
    r = bsstream("scan", wav, "--local", "--json", "--output", str(html))
    assert r.code == 0, r.err
    every = [json.loads(line) for line in r.out.splitlines()]
    assert every[0]["stream"]["method"] == "scan"  # one stream line and one end line per input
    assert every[0]["stream"]["methods"] == ["StreamAudio", "DeepfakeDetection"]
    assert every[-1]["end"]["method"] == "scan" and every[-1]["end"]["status"] == 0
    lines = every[1:-1]
    methods = {line["method"] for line in lines}
    assert methods == {"StreamAudio", "DeepfakeDetection"}
    tasks = {res["task"] for line in lines for res in line["result"] if line["method"] == "DeepfakeDetection"}
    assert tasks == {"deepfake"}
    assert any(res["task"] == "gender" for line in lines for res in line["result"])
    page = html.read_text()
    assert "deepfake" in page and "gender" in page


def test_scan_decodes_once_and_sends_the_same_audio_to_both(testdata):
    servicer = StrictServicer()
    with FakeServer(servicer) as srv:
        out, err = io.StringIO(), io.StringIO()
        config = RunConfig(
            method="scan",
            inputs=[str(testdata / "05_vctk_p286_011_48k_mono_s16.wav")],
            credentials=Credentials(CID, KEY),
            endpoint=parse_endpoint(srv.address),
            insecure=True,
            json=True,
        )
        rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
    assert rc == 0, err.getvalue()
    calls = {c.method: c for c in servicer.calls}
    assert set(calls) == {"StreamAudio", "DeepfakeDetection"}
    assert calls["StreamAudio"].chunks == calls["DeepfakeDetection"].chunks
    assert all(c.violations == [] for c in calls.values())


class DeepfakeFails(StrictServicer):
    def DeepfakeDetection(self, request_iterator, context):
        for i, _ in enumerate(request_iterator):
            if i == 3:
                context.abort(grpc.StatusCode.INTERNAL, "model crashed")
        yield from ()


def test_scan_survives_one_side_failing(testdata):
    servicer = DeepfakeFails()
    with FakeServer(servicer) as srv:
        out, err = io.StringIO(), io.StringIO()
        config = RunConfig(
            method="scan",
            inputs=[str(testdata / "01_jfk_16k_mono_s16.wav")],
            credentials=Credentials(CID, KEY),
            endpoint=parse_endpoint(srv.address),
            insecure=True,
            json=True,
            stream=Options(retries=0),
        )
        rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
    assert rc == ExitStatus.SERVICE_ERROR
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "stream" in lines[0] and lines[-1]["end"]["status"] == ExitStatus.SERVICE_ERROR
    lines = lines[1:-1]
    (analysis,) = [c for c in servicer.calls if c.method == "StreamAudio"]
    assert len(lines) == analysis.responses_sent  # every StreamAudio result kept
    assert {line["method"] for line in lines} == {"StreamAudio"}
    assert analysis.audio_bytes == 11 * 32000  # the analysis got all the audio
    (line,) = err.getvalue().strip().splitlines()
    assert "DeepfakeDetection" in line and "model crashed" in line
