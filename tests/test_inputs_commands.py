"""Every input kind of issue 14 in ``deepfake`` and ``scan`` too (``analyze`` has its own tests
in test_inputs_raw.py, test_inputs_url.py, test_inputs_device.py, test_inputs_split.py and
test_mic_pulse.py): headerless ``--raw`` samples, an http URL (chunked, from a local server,
with a secret in its query string), a capture device (ffmpeg's lavfi device reading a recording:
the same ``-f DEVICE`` path as a microphone) and ``--channels split``. Each must stream to the
end with the command's results: deepfake's ``deepfake`` task, scan's two methods."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bsstream.audio.ffmpeg import ffmpeg_exe
from tests.clirun import bsstream

JFK = "01_jfk_16k_mono_s16.wav"  # 11 s
TWO = "g_two_speakers_8k_stereo_mulaw.wav"  # ch0: a man, ch1: a TTS woman
SECRET = "SIGabc123secret"


class Chunked(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = (self.root / self.path.split("?", 1)[0].lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 16384):
            part = body[i : i + 16384]
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture(scope="module")
def base_url(testdata: Path) -> Iterator[str]:
    handler = type("H", (Chunked,), {"root": testdata})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def mulaw(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 11 s recording as headerless G.711 mu-law at 8 kHz (as a telephony system writes it)."""
    dest = tmp_path_factory.mktemp("raw") / "jfk.ul"
    args = ["-nostdin", "-v", "error", "-i", str(testdata / JFK), "-f", "mulaw", "-ar", "8000", "-ac", "1"]
    subprocess.run([ffmpeg_exe(), *args, "-y", str(dest)], check=True)
    return dest


def inputs(kind: str, testdata: Path, base_url: str, mulaw: Path) -> tuple[list[str], str, float]:
    """(arguments, the source name in the output, the audio seconds to stream) of an input kind."""
    if kind == "raw":
        return ["--raw", "mulaw:8000", str(mulaw)], str(mulaw), 11.0
    if kind == "url":
        return [f"{base_url}/{JFK}?X-Amz-Signature={SECRET}"], f"{base_url}/{JFK}", 11.0
    if kind == "mic":
        device = f"mic:lavfi:amovie={testdata / JFK}"
        return [device, "--duration", "6"], device, 6.0
    assert kind == "split"
    return (
        [str(testdata / TWO), "--channels", "split", "--channel-names", "agent,customer"],
        str(testdata / TWO),
        0.0,
    )


def run(command: str, args: list[str]) -> tuple[list[dict[str, Any]], str]:
    r = bsstream(command, "--local", "--json", *args, timeout=90)
    assert r.code == 0, r.err
    assert SECRET not in r.out + r.err
    return [json.loads(x) for x in r.out.splitlines()], r.err


@pytest.mark.parametrize("kind", ["raw", "url", "mic", "split"])
def test_deepfake_takes_every_input_kind(kind: str, testdata: Path, base_url: str, mulaw: Path) -> None:
    args, source, seconds = inputs(kind, testdata, base_url, mulaw)
    lines, _ = run("deepfake", args)
    assert lines[0]["source"] == source and lines[0]["stream"]["method"] == "DeepfakeDetection"
    end = lines[-1]["end"]
    assert end["status"] == 0 and end["results"] > 0
    if seconds:
        assert end["audio_seconds"] == pytest.approx(seconds, abs=0.1)
    results = [r for x in lines for r in x.get("result", ())]
    assert results and {r["task"] for r in results} == {"deepfake"}
    if kind == "split":
        tags = {(x["channel"], x["channel_name"]) for x in lines if "result" in x}
        assert tags == {(0, "agent"), (1, "customer")}


@pytest.mark.parametrize("kind", ["raw", "url", "mic", "split"])
def test_scan_takes_every_input_kind(kind: str, testdata: Path, base_url: str, mulaw: Path) -> None:
    args, source, seconds = inputs(kind, testdata, base_url, mulaw)
    lines, _ = run("scan", args)
    assert lines[0]["source"] == source and lines[0]["stream"]["method"] == "scan"
    end = lines[-1]["end"]
    assert end["method"] == "scan" and end["status"] == 0
    if seconds:
        assert end["audio_seconds"] == pytest.approx(seconds, abs=0.1)
    body = [x for x in lines[1:-1] if "result" in x]
    by_method = {
        m: {r["task"] for x in body if x["method"] == m for r in x["result"]}
        for m in ("StreamAudio", "DeepfakeDetection")
    }
    assert by_method["DeepfakeDetection"] == {"deepfake"}  # one decode, both calls answered
    assert "gender" in by_method["StreamAudio"]
    if kind == "split":  # channels x methods
        calls = {(x["method"], x["channel"]) for x in body}
        assert calls == {(m, c) for m in ("StreamAudio", "DeepfakeDetection") for c in (0, 1)}
