"""The live view in a real terminal (tmux): ``bsstream analyze --local --realtime`` of the
first 12 s of the 169 s recording, in 120x40, 60x30 and 80x12 panes at once, captured while it
streams (at about 8 s of audio; the short pane at 10.5 s, once rows have scrolled off) and
when it has ended.

Asserted on what the terminal shows: the status line; the newest window on screen and at the
bottom of the table while streaming (the 80x12 pane also says how many rows scrolled off); no
line wider than the pane (wrapped lines joined with ``capture-pane -J``); every label in the
table a whole known label (no word split, no cut); the newest window and the summary on the
final screen; colour on a terminal, none with NO_COLOR (the 80x12 pane). Skipped, saying why,
without tmux (Debian: ``apt-get install tmux``). About 15 s.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.conftest import write_wav

ROOT = Path(__file__).resolve().parent.parent
RECORDING = "10_voxconverse_aepyx_8k_mono_s16_169s.wav"
SECONDS = 12
TIME = re.compile(r"(\d+\.\d\d)-(\d+\.\d\d)")
SENT = re.compile(r"sent (\d+\.\d)")


@dataclass
class Pane:
    tmux: str
    name: str
    width: int
    height: int
    saved: Path

    def capture(self, *flags: str) -> str:
        args = [self.tmux, "-L", self.name, "capture-pane", "-p", *flags, "-t", self.name]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.name, "kill-server"], capture_output=True)


@pytest.fixture
def panes(tmp_path: Path, testdata: Path) -> Iterator[list[Pane]]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (Debian: apt-get install tmux): no real-terminal test")
    with wave.open(str(testdata / RECORDING)) as w:
        rate = w.getframerate()
        audio = w.readframes(rate * SECONDS)
    wav = write_wav(tmp_path / "call.wav", audio, rate=rate)
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g history-limit 50000\nset -g status off\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "TMUX", "NO_COLOR"))}
    made: list[Pane] = []
    for width, height, extra_env in [(120, 40, ""), (60, 30, ""), (80, 12, "NO_COLOR=1 ")]:
        name = f"bsstream-live-{os.getpid()}-{width}x{height}"
        saved = tmp_path / f"{width}x{height}.jsonl"
        cli = [sys.executable, "-m", "bsstream", "analyze", "--local", "--realtime", str(wav)]
        cli += ["--output", str(saved)]
        command = f"{extra_env}{shlex.join(cli)}; echo __EXIT__ $?; sleep 120"
        size = ["-x", str(width), "-y", str(height)]
        subprocess.run(
            [tmux, "-L", name, "-f", str(conf), "new-session", "-d", "-s", name, *size, command],
            check=True,
            env=env,
            cwd=ROOT,
        )
        made.append(Pane(tmux, name, width, height, saved))
    yield made
    for pane in made:
        pane.close()


def table_rows(screen: list[str]) -> list[str]:
    """The data lines of the window table(s) on a screen: each line that starts with a time
    window, with the deck lines that continue it (they start with spaces)."""
    rows: list[str] = []
    inside = False
    for line in screen:
        if TIME.match(line):
            inside = True
        elif not (inside and line.startswith(" ") and line.strip()):
            inside = False
            continue
        rows.append(line)
    return rows


def leftovers(line: str, words: set[str]) -> list[str]:
    """What in a table line is not a whole known label, a posterior or a time window."""
    pieces = sorted(words, key=len, reverse=True)
    bad, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        for piece in pieces:
            end = i + len(piece)
            if line.startswith(piece, i) and (end == len(line) or line[end] == " "):
                i = end
                break
        else:
            match = re.compile(r"(\d+\.\d\d-\d+\.\d\d|\d\.\d\d)(?= |$)").match(line, i)
            token = line[i:].split(" ", 1)[0] if match is None else ""
            if token:
                bad.append(token)
            i = match.end() if match is not None else i + len(token)
    return bad


def windows_and_words(saved: Path) -> tuple[list[tuple[float, float, str]], set[str]]:
    """The run's windows (start, end, level) in arrival order and every label it used."""
    windows: list[tuple[float, float, str]] = []
    words = {"seg", "utt"}
    for line in saved.read_text().splitlines():
        data = json.loads(line)
        for r in data.get("result", []):
            key = (float(r["start_time"]), float(r["end_time"]), r.get("level", ""))
            if key not in windows:
                windows.append(key)
            words.update(p["label"] for p in r["prediction"] if p["label"])
    return windows, words


def has_colour(screen: str) -> bool:
    """Whether a ``capture-pane -e`` screen sets a text colour (SGR 30-37, 90-97 or 38;...;
    39, the default colour, and bold or dim are not colour)."""
    for params in re.findall(r"\x1b\[([0-9;:]*)m", screen):
        codes = [int(p) if p.isdigit() else 0 for p in re.split(r"[;:]", params)]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 38 or 30 <= code <= 37 or 90 <= code <= 97:
                return True
            if code == 48:  # a background colour: skip its arguments
                i += 3 if codes[i + 1 : i + 2] == [5] else 5
                continue
            i += 1
    return False


def window_text(window: tuple[float, float, str]) -> str:
    return f"{window[0]:.2f}-{window[1]:.2f}"


def check_screen(pane: Pane, screen: str, joined: str, words: set[str]) -> list[str]:
    lines = [line.rstrip() for line in screen.splitlines()]
    for line in joined.splitlines():  # a line wider than the pane wrapped: -J joins it back
        assert cell_len(line.rstrip()) <= pane.width, (pane.name, line)
    rows = table_rows(lines)
    assert rows, (pane.name, screen)
    for row in rows:
        assert not leftovers(row, words), (pane.name, row)
    return lines


def test_live_view_in_real_terminals(panes: list[Pane]) -> None:
    during: dict[str, tuple[str, str, str, float]] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(during) < len(panes):
        for pane in panes:
            if pane.name in during:
                continue
            screen = pane.capture()
            sent = SENT.search(screen)
            wanted = 10.5 if pane.height == 12 else 8.0  # the short pane: once rows scrolled off
            if sent is not None and float(sent.group(1)) >= wanted and TIME.search(screen):
                during[pane.name] = (screen, pane.capture("-J"), pane.capture("-e"), float(sent.group(1)))
        time.sleep(0.1)
    assert len(during) == len(panes), "the status line never said 8 s of audio were sent"
    while time.monotonic() < deadline and not all("__EXIT__" in p.capture() for p in panes):
        time.sleep(0.2)
    for pane in panes:
        final = pane.capture()
        assert "__EXIT__ 0" in final, final
        windows, words = windows_and_words(pane.saved)
        assert len(windows) >= 6
        screen, joined, coloured, sent = during[pane.name]
        lines = check_screen(pane, screen, joined, words)
        assert len(lines) <= pane.height
        assert any(line.startswith(("streaming ·", "sent ")) for line in lines), screen
        # the newest window: every window the emulator had answered a second before the
        # screen said how much audio was sent is on it, and the last row is the newest shown
        answered = [w for w in windows if w[1] <= sent - 1.0]
        assert answered and window_text(answered[-1]) in screen, (pane.name, sent, screen)
        shown = [TIME.match(row) for row in table_rows(lines)]
        starts = [m.group(0) for m in shown if m is not None]
        order = [window_text(w) for w in windows]
        assert starts[-1] == max(starts, key=order.index), (pane.name, screen)
        if pane.height == 12:
            assert re.search(r"\d+ earlier rows? hidden", screen), screen  # the tail, not the head
            assert not has_colour(coloured), "NO_COLOR ignored"
        else:
            assert has_colour(coloured)
        # when it has ended: the whole table in the scrollback, then the summary; in the two
        # big panes the newest window and the summary are on the final screen
        history = pane.capture("-J", "-S", "-")
        check_screen(pane, history, history, words)
        assert all(window_text(w) in history for w in windows), (pane.name, history)
        assert any(line.strip() == "Summary" for line in history.splitlines()), history
        if pane.height >= 30:
            assert window_text(windows[-1]) in final, (pane.name, final)
            assert any(line.strip() == "Summary" for line in final.splitlines()), final
