"""The progress rule (bsstream/streamkind.py, README "Progress display"): a progress display
never redraws on stderr while stdout is a pipe (a consumer may be printing to the same screen)
unless asked with --progress; with stdout a file or /dev/null it shows. Unit tests of the rule
and of stream_kind on real file descriptors, plus one real terminal under tmux."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bsstream.streamkind import StreamKind, progress_on_stderr, stream_kind
from tests.conftest import write_wav

K = StreamKind
ROOT = Path(__file__).resolve().parent.parent


# --- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stdout,shown",
    [
        (K.FILE, True),  # > out.jsonl: nothing else on the screen
        (K.DEVICE, True),  # > /dev/null
        (K.PIPE, False),  # | jq: jq prints to the same terminal
        (K.SOCKET, False),
        (K.TERMINAL, False),  # --json lines on the terminal itself
        (K.UNKNOWN, False),
    ],
)
def test_default_follows_what_stdout_is(stdout: StreamKind, shown: bool) -> None:
    assert progress_on_stderr(stdout, K.TERMINAL, requested=None, quiet=False) is shown


@pytest.mark.parametrize("stdout", list(StreamKind))
def test_flags_and_quiet(stdout: StreamKind) -> None:
    assert progress_on_stderr(stdout, K.TERMINAL, requested=True, quiet=False)  # --progress
    assert progress_on_stderr(stdout, K.TERMINAL, requested=True, quiet=True)  # explicit wins
    assert not progress_on_stderr(stdout, K.TERMINAL, requested=False, quiet=False)  # --no-progress
    assert not progress_on_stderr(stdout, K.TERMINAL, requested=None, quiet=True)  # --quiet


@pytest.mark.parametrize("stderr", [k for k in StreamKind if k is not K.TERMINAL])
@pytest.mark.parametrize("requested", [None, True])
def test_never_redraws_on_a_stderr_that_is_not_a_terminal(stderr: StreamKind, requested: bool | None) -> None:
    assert not progress_on_stderr(K.FILE, stderr, requested=requested, quiet=False)


# --- stream_kind on real descriptors --------------------------------------------------------


def test_stream_kind_of_real_streams(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w") as regular, open(os.devnull, "w") as null:
        assert stream_kind(regular) is K.FILE
        assert stream_kind(null) is K.DEVICE
    r, w = os.pipe()
    with os.fdopen(r) as reader, os.fdopen(w, "w") as writer:
        assert stream_kind(writer) is K.PIPE and stream_kind(reader) is K.PIPE
    a, b = socket.socketpair()
    with a, b, a.makefile("w") as sock_file:
        assert stream_kind(sock_file) is K.SOCKET
    assert stream_kind(io.StringIO()) is K.UNKNOWN  # no descriptor
    with open(tmp_path / "g", "w") as closed:
        pass
    assert stream_kind(closed) is K.UNKNOWN  # closed


def test_stream_kind_of_a_pseudo_terminal() -> None:
    import pty

    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as term:
        assert stream_kind(term) is K.TERMINAL
    os.close(leader)


# --- a real terminal ------------------------------------------------------------------------

BAR = "━"  # Rich's progress bar


class Pane:
    """One tmux server (its own socket, no user config) with one 80x24 pane running ``command``."""

    def __init__(self, tmux: str, name: str, command: str, conf: Path) -> None:
        self.tmux, self.name = tmux, name
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "TMUX"))}
        size = ["-x", "80", "-y", "24"]
        subprocess.run(
            [tmux, "-L", name, "-f", str(conf), "new-session", "-d", "-s", name, *size, command],
            check=True,
            env=env,
            cwd=ROOT,
        )

    def capture(self, *, history: bool = False) -> str:
        args = [self.tmux, "-L", self.name, "capture-pane", "-p", "-t", self.name]
        if history:
            args += ["-J", "-S", "-"]  # the whole scrollback, wrapped lines joined
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.name, "kill-server"], capture_output=True)


@pytest.fixture
def open_pane(tmp_path: Path) -> Iterator[Callable[[str], Pane]]:
    """Opens 80x24 tmux panes (skipped, saying why, without tmux); closes them after the test."""
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (Debian: apt-get install tmux): no real-terminal test")
    made: list[Pane] = []
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g history-limit 50000\nset -g status off\n")

    def open_one(command: str) -> Pane:
        pane = Pane(tmux, f"bsstream-test-{os.getpid()}-{len(made)}", command, conf)
        made.append(pane)
        return pane

    yield open_one
    for pane in made:
        pane.close()


def test_json_through_cat_in_a_real_terminal(
    open_pane: Callable[[str], Pane], tmp_path: Path, testdata: Path
) -> None:
    """``bsstream analyze --local --json --realtime FILE | cat`` in an 80x24 tmux pane: nothing
    redraws over cat's output (no bar at any moment, every JSON line whole on the screen and in
    the scrollback). The same with the JSON lines straight on the terminal. Beside them, the
    piped run with --progress does show the bar (so this harness would see one) and tears the
    JSON lines (what the old default did)."""
    with wave.open(str(testdata / "01_jfk_16k_mono_s16.wav")) as w:
        speech = w.readframes(w.getframerate() * 3)  # 3 s of speech: results at ~2 s and the end
    wav = write_wav(tmp_path / "speech.wav", speech)
    runs: dict[str, tuple[str, list[str]]] = {
        "pipe": ("| cat", []),
        "terminal": ("", []),  # the JSON lines straight on the terminal
        "forced": ("| cat", ["--progress"]),
    }
    panes: dict[str, tuple[Pane, Path]] = {}
    for name, (pipe, extra) in runs.items():
        saved = tmp_path / f"{name}.jsonl"  # the same stream, saved, to compare with the screen
        cli = [sys.executable, "-m", "bsstream", "analyze", "--local", "--json", "--realtime", str(wav)]
        cli += ["--output", str(saved), *extra]
        panes[name] = open_pane(f"{shlex.join(cli)} {pipe}; echo __EXIT__ $?; sleep 60"), saved
    bar = dict.fromkeys(runs, False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        screens = {name: pane.capture() for name, (pane, _) in panes.items()}
        for name, screen in screens.items():
            bar[name] |= BAR in screen
        if all("__EXIT__" in screen for screen in screens.values()):
            break
        time.sleep(0.1)
    assert bar["forced"], "the --progress run never showed a bar: this harness cannot see one"
    for name in ("pipe", "terminal"):
        pane, saved = panes[name]
        final = pane.capture()
        assert "__EXIT__ 0" in final, final
        assert not bar[name], f"{name}: a progress bar was drawn over the JSON lines"
        expected = result_lines(saved.read_text().splitlines())
        assert len(expected) >= 2
        history = [line.rstrip() for line in pane.capture(history=True).splitlines()]
        json_lines = [line for line in history if line.startswith("{")]
        assert all(json.loads(line) for line in json_lines), name  # none torn
        assert result_lines(json_lines) == expected, name  # every result line, whole, in order
        assert not any(BAR in line for line in history)
        # the final screen: the end of the last JSON line (wrapped at 80), then the exit marker
        rows = [line.rstrip() for line in final.splitlines() if line.strip()]
        assert rows[-1] == "__EXIT__ 0"
        assert json_lines[-1].endswith(rows[-2]), rows[-2]
    forced, saved = panes["forced"]
    torn = [line.rstrip() for line in forced.capture(history=True).splitlines() if line.startswith("{")]
    assert result_lines(torn) != result_lines(saved.read_text().splitlines())


def result_lines(lines: list[str]) -> list[str]:
    """The JSON lines that are result messages (whole lines only: a torn one does not parse)."""
    found = []
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("result"):
            found.append(line)
    return found
