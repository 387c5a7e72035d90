"""--mic with a real PulseAudio server, started by the test (Debian's ``pulseaudio``; .ci/run
installs it and fails when this test is skipped).

The server runs as this user (root too: it warns and runs) with a private runtime directory and
home, no configuration file (``-n``), the native protocol with anonymous clients, and one source:
``module-pipe-source`` named ``bstest``, fed from a FIFO. A thread writes a recording into the
FIFO at real-time pace, starting once ffmpeg's capture stream is connected (``pactl``), so the
capture starts with the recording's first sample; after it, silence until the capture ends
(a pipe source without a writer sends nothing, and ffmpeg's ``-t`` counts the time of what
arrived). The capture through the bundled ffmpeg's ``pulse`` input (``--mic bstest``) must
give the results of streaming the same audio from a file. The same capture also feeds every
output (``--output`` HTML and CSV, ``--output-dir``) and ``--fail-on`` as a file would, and
Ctrl-C (a real SIGINT to a child process) ends it cleanly: exit 130 with the final results
printed and kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.clirun import bsstream, child_environ
from tests.conftest import write_wav

RATE = 16000
SECONDS = 3.0  # of the recording (p286, a man's voice), then silence
TAIL = 0.5  # s of silence captured after it
SOURCE = "bstest"

pytestmark = pytest.mark.skipif(
    shutil.which("pulseaudio") is None or shutil.which("pactl") is None,
    reason="pulseaudio (and pactl) not installed: apt-get install pulseaudio pulseaudio-utils",
)


class Pulse:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.runtime = root / "run"
        self.home = root / "home"
        self.fifo = root / "source.fifo"
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime), "HOME": str(self.home)}
        self.env.pop("PULSE_SERVER", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.runtime.mkdir(mode=0o700)
        self.home.mkdir()
        self.proc = subprocess.Popen(
            [
                "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
                "--use-pid-file=no", "--log-target=stderr",
                "-L", "module-native-protocol-unix auth-anonymous=1",
                "-L", f"module-pipe-source source_name={SOURCE} file={self.fifo} format=s16le "
                f"rate={RATE} channels=1",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        socket = self.runtime / "pulse" / "native"
        deadline = time.monotonic() + 15
        while not (socket.exists() and self.fifo.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.stop()
                pytest.fail(f"pulseaudio did not start: {err}", pytrace=False)
            time.sleep(0.05)

    def capturing(self) -> bool:
        """Whether a client (ffmpeg) is recording from the source."""
        done = subprocess.run(
            ["pactl", "list", "short", "source-outputs"], env=self.env, capture_output=True, check=False
        )
        return bool(done.stdout.strip())

    def stop(self) -> str:
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.proc = None
        return err.decode("utf-8", "replace")[-2000:]


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    server = Pulse(tmp_path_factory.mktemp("pulse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pulse_env(pulse: Pulse, monkeypatch: pytest.MonkeyPatch) -> Pulse:
    """This process (and the ffmpeg it starts) talks to the test's server."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(pulse.runtime))
    monkeypatch.setenv("HOME", str(pulse.home))
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    return pulse


def feed(pulse: Pulse, pcm: bytes, stop: threading.Event, errors: list[BaseException]) -> None:
    """Once the capture is connected: ``pcm`` at real-time pace, then silence until ``stop``."""
    try:
        deadline = time.monotonic() + 20
        while not pulse.capturing():
            if stop.is_set() or time.monotonic() > deadline:
                return
            time.sleep(0.02)
        step = RATE * 2 // 50  # 20 ms
        with open(pulse.fifo, "wb", buffering=0) as fifo:
            started = time.monotonic()
            sent = 0
            while not stop.is_set():
                block = pcm[sent : sent + step] or bytes(step)
                fifo.write(block)
                sent += step
                ahead = started + sent / (2 * RATE) - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def results(out: str) -> list[tuple[str, str, float, float, str]]:
    got = []
    for line in out.splitlines():
        for r in json.loads(line).get("result", ()):
            if r["final_label"]:
                got.append(
                    (r["level"], r["task"], float(r["start_time"]), float(r["end_time"]), r["final_label"])
                )
    return sorted(got)


@pytest.fixture(scope="module")
def recording(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """p286's first SECONDS at 16 kHz mono, and a WAV of it followed by TAIL s of silence."""
    from bsstream.audio.decode import open_input

    with open_input(str(testdata / "05_vctk_p286_011_48k_mono_s16.wav")) as source:
        pcm = b"".join(source.blocks())[: int(SECONDS * RATE) * 2]
    wav = write_wav(tmp_path_factory.mktemp("mic") / "p286.wav", pcm + bytes(int(TAIL * RATE) * 2))
    return pcm, wav


def test_capture_from_a_named_pulse_source_matches_the_file(
    pulse_env: Pulse, recording: tuple[bytes, Path]
) -> None:
    pcm, wav = recording
    stop, errors = threading.Event(), list[BaseException]()
    writer = threading.Thread(target=feed, args=(pulse_env, pcm, stop, errors), daemon=True)
    writer.start()
    try:
        duration = str(SECONDS + TAIL)
        live = bsstream("analyze", "--local", "--json", "--mic", SOURCE, "--duration", duration, timeout=60)
    finally:
        stop.set()
        writer.join(10)
    assert not errors, errors
    assert live.code == 0, live.err
    lines = [json.loads(x) for x in live.out.splitlines()]
    assert lines[0]["source"] == f"mic:pulse:{SOURCE}"
    end = lines[-1]["end"]
    assert end["status"] == 0 and end["audio_seconds"] == pytest.approx(SECONDS + TAIL, abs=0.3)
    from_file = bsstream("analyze", "--local", "--json", str(wav))
    assert from_file.code == 0, from_file.err
    got, want = results(live.out), results(from_file.out)
    assert want and len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):  # the same windows (within a few 20 ms frames)
        assert g[:2] == w[:2] and abs(g[2] - w[2]) <= 0.1 and abs(g[3] - w[3]) <= 0.15, (g, w)
    same = sum(g[4] == w[4] for g, w in zip(got, want, strict=True))
    assert same >= 0.9 * len(want), (got, want)  # the same labels


def test_devices_lists_the_pulse_source(pulse_env: Pulse) -> None:
    r = bsstream("devices")
    assert r.code == 0, r.err
    assert f"* mic:pulse:{SOURCE}" in r.out


def test_a_missing_source_name_is_exit_4(pulse_env: Pulse) -> None:
    r = bsstream("analyze", "--local", "--mic", "no-such-source", "--duration", "1")
    assert r.code == 4, r.err
    (line,) = [x for x in r.err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: mic:pulse:no-such-source: no capture device of that name")


@contextlib.contextmanager
def feeding(pulse: Pulse, pcm: bytes) -> Iterator[None]:
    """``pcm`` into the source at real-time pace once a capture connects, then silence."""
    stop, errors = threading.Event(), list[BaseException]()
    writer = threading.Thread(target=feed, args=(pulse, pcm, stop, errors), daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join(10)
    assert not errors, errors


def test_a_capture_feeds_every_output_output_dir_and_fail_on(
    pulse_env: Pulse, recording: tuple[bytes, Path], tmp_path: Path
) -> None:
    """Everything works on a live capture as on a file: --output files (the HTML report with the
    captured audio embedded, CSV), --output-dir's complete file, --fail-on's match and exit 10."""
    pcm, _ = recording
    out_dir, html, table = tmp_path / "out", tmp_path / "capture.html", tmp_path / "capture.csv"
    with feeding(pulse_env, pcm):
        r = bsstream(
            "analyze", "--local", "--mic", SOURCE, "--duration", str(SECONDS + TAIL),
            "--output-dir", str(out_dir), "--output", str(html), "--output", str(table),
            "--fail-on", "gender=male>=0.5", timeout=60,
        )  # fmt: skip
    assert r.code == 10, r.err
    matches = [x for x in r.err.splitlines() if x.startswith("fail-on match:")]
    assert matches and all(f"mic:pulse:{SOURCE}" in x for x in matches), r.err
    from bsstream.batch.outdir import read_marker

    (saved,) = list(out_dir.rglob("*.jsonl"))
    marker = read_marker(saved)
    assert marker is not None and "partial" not in saved.name, saved.read_text()[-500:]
    saved_results = [json.loads(x) for x in saved.read_text().splitlines() if '"result"' in x]
    assert saved_results
    rows = table.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("source,") and any(
        f"mic:pulse:{SOURCE}" in x and ",gender,male," in x for x in rows
    )
    page = html.read_text(encoding="utf-8")
    assert f"mic:pulse:{SOURCE}" in page and "data:audio/webm;base64," in page  # the tapped PCM


def test_ctrl_c_during_a_capture_ends_cleanly_with_the_final_results(
    pulse: Pulse, recording: tuple[bytes, Path], tmp_path: Path
) -> None:
    """A capture without --duration runs until Ctrl-C: SIGINT stops sending, the final results
    arrive and are printed, the end line says 130, the --output file is kept as its partial
    name with every result, exit 130, no traceback."""
    pcm, _ = recording
    saved = tmp_path / "capture.jsonl"
    env = child_environ(
        {"XDG_RUNTIME_DIR": str(pulse.runtime), "HOME": str(pulse.home), "PULSE_SERVER": None}
    )
    command = [sys.executable, "-m", "bsstream", "analyze", "--local", "--json", "--mic", SOURCE]
    lines: list[str] = []
    far_enough = threading.Event()

    def read(stream: IO[str]) -> None:
        for line in stream:
            lines.append(line)
            ends = [float(x["end_time"]) for x in json.loads(line).get("result", ())]
            if ends and max(ends) >= 2.0:
                far_enough.set()

    with feeding(pulse, pcm):
        proc = subprocess.Popen(
            [*command, "--output", str(saved)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
        reader.start()
        try:
            assert far_enough.wait(30), "no results of the first 2 s of the capture"
            proc.send_signal(signal.SIGINT)
            err = proc.stderr.read()
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(10)
    assert code == 130, err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("interrupted"), err
    docs = [json.loads(x) for x in lines]
    end = docs[-1]["end"]
    assert end["status"] == 130 and end["audio_seconds"] >= 2.0, end
    results = sum(len(d.get("result", ())) for d in docs)
    assert results and end["results"] == results  # every result received was printed
    assert any(r["level"] == "utterance" for d in docs for r in d.get("result", ())), "no final results"
    partial = tmp_path / "capture.partial.jsonl"
    assert partial.exists() and not saved.exists()
    kept = [json.loads(x) for x in partial.read_text().splitlines()]
    assert kept[-1] == {"partial": {"reason": "interrupted (Ctrl-C)"}}
    assert sum(len(d.get("result", ())) for d in kept) == results
