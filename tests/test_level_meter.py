"""The live view's input level meter for live captures (``--mic``, stdin with ``--realtime``):
the level of the newest ~0.2 s of decoded PCM (bsstream/audio/level.py), watched through the
run's one PCM tap (bsstream/audio/tap.py), shown first in the status line
(bsstream/render/view.py ``level_meter``): golden frames at 60, 80 and 120 columns from a
fixed-width colourless capture console, as the other golden screens.

Regenerate the golden screens with UPDATE_GOLDEN=1 (see tests/test_render_support.py).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.cells import cell_len

from bsstream.audio.level import FLOOR_DBFS, Level, LevelMeter, level_of
from bsstream.audio.tap import TappedSource, tap
from bsstream.protocol.stream import StreamInfo
from bsstream.protocol.timeline import Timeline
from bsstream.render.live import LiveSink, _TimelineView
from bsstream.render.view import LiveStatus, build_live_view, level_meter, status_text
from bsstream.replay import load_replay
from tests.test_render_support import GOLDEN, assert_golden, capture_console, output

RATE = 16000


def sine(amplitude: float, seconds: float, channels: int = 1) -> bytes:
    n = int(RATE * seconds)
    frames = []
    for i in range(n):
        v = round(amplitude * math.sin(2 * math.pi * 440 * i / RATE))
        frames.append(struct.pack("<" + "h" * channels, *([v] * channels)))
    return b"".join(frames)


def wav_header(channels: int) -> bytes:
    """A streaming WAV header as the split decode writes it (sizes unknown)."""
    fmt = struct.pack("<HHIIHH", 1, channels, RATE, RATE * 2 * channels, 2 * channels, 16)
    return b"RIFF\xff\xff\xff\xffWAVEfmt " + struct.pack("<I", 16) + fmt + b"data\xff\xff\xff\xff"


def test_level_of_a_sine_and_of_silence() -> None:
    level = level_of(sine(16384, 0.2))
    assert level is not None
    assert level.peak == pytest.approx(-6.02, abs=0.05)  # half of full scale
    assert level.rms == pytest.approx(-9.03, abs=0.05)  # a sine's RMS is 3 dB under its peak
    assert level_of(bytes(3200)) == Level(FLOOR_DBFS, FLOOR_DBFS)
    assert level_of(b"\x01") is None


def test_the_meter_reads_only_the_newest_window() -> None:
    meter = LevelMeter()
    assert meter.reading() is None  # before the first samples: no meter
    loud, quiet = sine(30000, 1.0), sine(300, 0.5)
    stream = loud + quiet
    for i in range(0, len(stream), 777):  # odd block sizes: samples split across blocks
        meter.feed(stream[i : i + 777])
    level = meter.reading()
    assert level is not None and level.peak == pytest.approx(20 * math.log10(300 / 32768), abs=0.1)
    meter.feed(loud[:1601])  # an odd byte count: the half sample waits
    level = meter.reading()
    assert level is not None and level.peak > -1.0
    meter.finish()
    assert meter.reading() is None  # the stream ended: the meter goes


def test_the_meter_skips_a_split_streams_wav_header() -> None:
    meter = LevelMeter(wav_stream=True)
    stream = wav_header(2) + sine(8192, 0.3, channels=2)
    for i in range(0, len(stream), 10):  # the header itself arrives in pieces
        meter.feed(stream[i : i + 10])
    level = meter.reading()
    assert level is not None and level.peak == pytest.approx(-12.04, abs=0.05)
    # RIFF bytes counted as samples would have read far louder than the sine
    assert level.rms == pytest.approx(-15.05, abs=0.05)


def test_one_tap_feeds_every_watcher_and_finishes_them() -> None:
    class Source:
        name, duration = "mic:pulse:default", None

        def blocks(self):  # type: ignore[no-untyped-def]
            yield b"\x00\x40" * 100
            yield b"\x00\xc0" * 100

        def close(self) -> None:
            pass

    class Seen:
        def __init__(self) -> None:
            self.blocks: list[bytes] = []
            self.finished = 0

        def feed(self, block: bytes) -> None:
            self.blocks.append(block)

        def finish(self) -> None:
            self.finished += 1

    first, second = Seen(), Seen()
    tapped = tap(Source(), first)
    assert tap(tapped, second) is tapped  # a second watcher: the same tap, not a second wrapper
    assert isinstance(tapped, TappedSource) and tapped.name == "mic:pulse:default"
    got = list(tapped.blocks())
    assert got == first.blocks == second.blocks and len(got) == 2
    assert first.finished == second.finished == 1


def test_meter_wordings() -> None:
    assert level_meter(-23.4, -9.0) == "level ▮▮▮▮▮▯▯▯ -23 dBFS"
    assert level_meter(-23.4, -9.0, words=1) == "▮▮▮▮▮▯▯▯ -23 dBFS"
    assert level_meter(-23.4, -9.0, words=0) == "▮▮▮▮▮▯▯▯ -23"
    assert level_meter(-3.0, 0.0) == "level ▮▮▮▮▮▮▮▮  -3 dBFS clip"
    assert level_meter(FLOOR_DBFS, FLOOR_DBFS) == "level ▯▯▯▯▯▯▯▯ -90 dBFS"
    assert level_meter(-75.0) == "level ▯▯▯▯▯▯▯▯ -75 dBFS"  # under the bar's range: empty
    widths = {cell_len(level_meter(db, db - 3)) for db in (-90.0, -45.0, -9.0, -0.1)}
    assert widths == {len("level ▮▮▮▮▯▯▯▯ -23 dBFS")}  # a fixed width: the line does not jitter


def test_the_meter_leads_the_status_line_and_survives_narrow_widths() -> None:
    capture = LiveStatus(sent=5.0, results=10, elapsed=6.0, level=-23.4, peak=-9.0)
    assert status_text(capture, 120).plain == (
        "streaming · level ▮▮▮▮▮▯▯▯ -23 dBFS · sent 5.0 s · 10 results · 0:06 elapsed"
    )
    assert status_text(capture, 60).plain == "▮▮▮▮▮▯▯▯ -23 dBFS · sent 5.0 s · 10 results · 0:06"
    assert status_text(capture, 40).plain == "▮▮▮▮▮▯▯▯ -23 · 5.0 s · 10 res · 0:06"
    assert status_text(capture, 20).plain.startswith("▮▮▮▮▮▯▯▯ -23")
    waiting = LiveStatus(sent=0.0, level=-52.0, peak=-45.0)
    assert status_text(waiting, 80).plain.startswith("waiting for audio · level ▮▯▯▯▯▯▯▯")
    no_meter = LiveStatus(sent=5.0, results=10, elapsed=6.0)  # a file: no meter
    assert "level" not in status_text(no_meter, 120).plain and "dBFS" not in status_text(no_meter, 120).plain


def capture_frame(width: int, height: int = 16) -> str:
    """A --mic capture after 14.8 s (p50 of the analyze recording's messages), -23 dBFS RMS."""
    log = load_replay(GOLDEN / "screens" / "analyze.jsonl")
    group = log.groups[0]
    timeline = Timeline()
    for m in group.messages[:7]:
        timeline.add(m)
    status = LiveStatus(sent=14.8, results=timeline.results, elapsed=15.2, level=-23.4, peak=-7.9)
    console = capture_console(width=width, height=height)
    console.print(build_live_view(timeline, status, width=width, height=height, title="mic:pulse:default"))
    clipping = LiveStatus(sent=15.0, results=timeline.results, elapsed=15.4, level=-2.2, peak=-0.1)
    console.print(status_text(clipping, width))
    silent = LiveStatus(sent=15.2, results=timeline.results, elapsed=15.6, level=FLOOR_DBFS, peak=FLOOR_DBFS)
    console.print(status_text(silent, width))
    return output(console)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_golden_capture_screens(width: int) -> None:
    text = capture_frame(width)
    for line in text.splitlines():
        assert cell_len(line) <= width, line
    assert "▮" in text.splitlines()[1] and "dBFS" in text.splitlines()[1]
    assert_golden(f"screens/level_{width}.txt", text)


def test_the_live_sink_shows_a_watched_level_while_its_input_streams() -> None:
    console = capture_console(width=100, height=20)
    sink = LiveSink(console, show_source=False, redirect_stderr=False, audio_progress=True)
    meter = LevelMeter()
    sink.watch_level("mic:pulse:default", meter.reading)
    info = StreamInfo(source="mic:pulse:default", method="StreamAudio")
    sink.begin(info)
    meter.feed(sine(4096, 0.25))  # -18 dBFS peak, -21 dBFS RMS
    sink.set_sent(info.source, 0.25)
    frame = capture_console(width=100, height=20)
    frame.print(_TimelineView(sink))
    assert "level ▮▮▮▮▮▯▯▯ -21 dBFS" in output(frame)
    other = LiveSink(
        capture_console(width=100), show_source=False, redirect_stderr=False, audio_progress=True
    )
    other.begin(StreamInfo(source="call.wav", method="StreamAudio"))  # not watched: no meter
    assert other.status().level is None
    other.close()
    sink.close()


def test_a_live_capture_shows_its_level_in_a_real_terminal(tmp_path: Path) -> None:
    """End to end in tmux, three runs at once: ``--mic lavfi:sine`` (ffmpeg's synthetic capture
    device, a 440 Hz sine at 1/8 of full scale: RMS -21 dBFS) and the same sine piped to stdin
    with ``--realtime`` show the meter through the run's PCM tap; a file (even with
    ``--realtime``) shows none. The final screen (table and summary) has no meter."""
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (Debian: apt-get install tmux): no real-terminal test")
    from tests.conftest import write_wav

    wav = write_wav(tmp_path / "sine.wav", sine(4096, 2.5))
    bs = [sys.executable, "-m", "bsstream", "analyze", "--local", "--realtime"]
    # lavfi makes its samples as fast as it can: --realtime paces them as a device would
    runs = {
        "mic": shlex.join([*bs, "--mic", "lavfi:sine=frequency=440", "--duration", "2.5"]),
        "stdin": f"{shlex.join([*bs, '-'])} < {shlex.quote(str(wav))}",
        "file": shlex.join([*bs, str(wav)]),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "TMUX", "NO_COLOR"))}
    env["LC_ALL"] = "C.UTF-8"
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g status off\n")
    root = Path(__file__).resolve().parent.parent
    names = {kind: f"bsstream-level-{os.getpid()}-{kind}" for kind in runs}
    for kind, command in runs.items():
        name = names[kind]
        start = [tmux, "-u", "-L", name, "-f", str(conf), "new-session", "-d", "-s", name]
        shell = f"{command}; echo __EXIT__ $?; sleep 60"
        subprocess.run([*start, "-x", "100", "-y", "30", shell], check=True, env=env, cwd=root)
    try:
        screens: dict[str, list[str]] = {kind: [] for kind in runs}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(s and "__EXIT__" in s[-1] for s in screens.values()):
            for kind, name in names.items():
                if screens[kind] and "__EXIT__" in screens[kind][-1]:
                    continue
                capture = [tmux, "-L", name, "capture-pane", "-p", "-t", name]
                screens[kind].append(
                    subprocess.run(capture, capture_output=True, text=True, check=True).stdout
                )
            time.sleep(0.2)
        for kind in runs:
            last = screens[kind][-1]
            assert "__EXIT__ 0" in last, (kind, last)
            assert "level ▮" not in last  # the final screen: the table and summary, no meter
            meters = [m for s in screens[kind] for m in re.findall(r"level [▮▯]{8} +-?\d+ dBFS", s)]
            if kind == "file":
                assert not meters and any("streaming" in s for s in screens[kind]), (kind, meters)
            else:  # the sine's RMS, while it streams
                assert "level ▮▮▮▮▮▯▯▯ -21 dBFS" in meters, (kind, meters, last)
    finally:
        for name in names.values():
            subprocess.run([tmux, "-L", name, "kill-server"], capture_output=True)
