"""http(s):// inputs from a local HTTP server: decoded as they download, errors classified by
status code and exception type, secrets in the URL never shown, nothing of ours sent."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bsstream.audio.url import _failure, display_name, is_url
from bsstream.status import ConnectionFailure, InputError
from tests.clirun import bsstream

SECRET = "SIGxyz0987654321secret"
API_KEY = "key-never-sent-to-the-url-host"
JFK = "01_jfk_16k_mono_s16.wav"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path
    seen_headers: list[dict[str, str]]
    release: threading.Event

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen_headers.append(dict(self.headers))
        path = self.path.split("?", 1)[0]
        if path == "/missing.wav":
            return self._status(404)
        if path == "/denied.wav":
            return self._status(403)
        if path == "/busy.wav":
            return self._status(503)
        if path == "/moved.wav":
            self.send_response(302)
            self.send_header("Location", f"/chunked/{JFK}?X-Amz-Signature={SECRET}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if path.startswith("/chunked/"):
            body = (self.root / path.split("/")[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 8192):
                part = body[i : i + 8192]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path.startswith("/stall/"):
            body = (self.root / path.split("/")[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.release.wait(30)  # the client gives up first (--timeout)
            return None
        body = (self.root / path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))  # no Range support, no Accept-Ranges
        self.end_headers()
        self.wfile.write(body)
        return None

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server(testdata) -> Iterator[tuple[str, type[Handler]]]:
    handler = type("H", (Handler,), {"root": testdata, "seen_headers": [], "release": threading.Event()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        handler.release.set()
        httpd.shutdown()
        httpd.server_close()


def run(*args: str):
    return bsstream("analyze", "--local", "--api-key", API_KEY, *args)


def test_a_presigned_url_streams_like_the_file_and_its_secrets_stay_hidden(server, testdata):
    base, handler = server
    url = f"{base}/{JFK}?X-Amz-Credential=AKIA&X-Amz-Signature={SECRET}"
    r = run("--json", url)
    assert r.code == 0, r.err
    every = [json.loads(x) for x in r.out.splitlines()]
    assert every[0]["source"] == f"{base}/{JFK}"
    assert every[-1]["end"]["audio_seconds"] == pytest.approx(11.0, abs=0.05)
    local = run("--json", str(testdata / JFK))
    results = [x["result"] for x in every if "result" in x]
    assert results == [json.loads(x)["result"] for x in local.out.splitlines() if '"result"' in x]
    assert SECRET not in r.out + r.err
    assert all(API_KEY not in " ".join(h.values()) for h in handler.seen_headers)
    assert all("authorization" not in {k.lower() for k in h} for h in handler.seen_headers)


def test_a_redirect_to_a_chunked_body_of_another_format(server):
    base, _ = server
    r = run("--json", f"{base}/moved.wav")
    assert r.code == 0, r.err
    assert json.loads(r.out.splitlines()[-1])["end"]["audio_seconds"] == pytest.approx(11.0, abs=0.05)
    r = run("--json", f"{base}/chunked/07_commonvoice_en_651325_48k_mono.mp3?sig={SECRET}")
    assert r.code == 0, r.err
    assert json.loads(r.out.splitlines()[-1])["end"]["results"] > 0
    assert SECRET not in r.out + r.err


@pytest.mark.parametrize(
    ("path", "code", "says"),
    [
        ("/missing.wav", 4, "not found (HTTP 404)"),
        ("/denied.wav", 4, "access denied (HTTP 403)"),
        ("/busy.wav", 5, "HTTP 503"),
    ],
)
def test_http_errors_are_one_line_with_their_exit_code(server, path, code, says):
    base, _ = server
    r = run(f"{base}{path}?token={SECRET}")
    assert r.code == code, r.err
    assert says in r.err and r.err.startswith(f"error: {base}{path}:")
    assert SECRET not in r.err
    assert [x for x in r.err.splitlines() if x.startswith("error")] == [r.err.splitlines()[-1]]


def test_a_refused_connection_is_a_connection_failure():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    r = run(f"http://u:{SECRET}@127.0.0.1:{port}/a.wav")
    assert r.code == 5 and "connection refused" in r.err
    assert SECRET not in r.err


def test_a_server_stalling_mid_body_is_caught_by_timeout(server):
    base, _ = server
    r = run("--json", "--timeout", "1", f"{base}/stall/{JFK}")
    assert r.code == 5, r.err
    assert "sent nothing for 1 s after" in r.err
    # the half that arrived was streamed
    assert any('"result"' in x for x in r.out.splitlines())


def test_a_url_with_a_batch_and_output_dir(server, tmp_path):
    base, _ = server
    out = tmp_path / "out"
    r = run("--output-dir", str(out), f"{base}/{JFK}?sig={SECRET}", f"{base}/missing.wav")
    assert r.code == 4
    assert (out / f"{JFK}.jsonl").is_file()
    assert SECRET not in (out / f"{JFK}.jsonl").read_text() + r.err + r.out


def test_failure_classification_by_type():
    assert isinstance(_failure("u", socket.gaierror(-2, "x"), 5), ConnectionFailure)
    assert "cannot resolve" in _failure("u", socket.gaierror(-2, "x"), 5).message
    assert isinstance(_failure("u", TimeoutError(), 5), ConnectionFailure)
    assert isinstance(_failure("u", ValueError(), 5), InputError)


def test_display_name_drops_credentials_query_and_fragment():
    assert (
        display_name("https://me:pw@Host.example:8443/a/b.wav?X=1#f") == "https://host.example:8443/a/b.wav"
    )
    assert is_url("HTTPS://x/y") and not is_url("httpx.wav") and not is_url("mic:")
