"""Start-up and exit of the real entry point (issue 17): a file that ffmpeg decodes starts
decoding before grpc is imported, and the process ends without the interpreter's teardown
yet with every handler run and every line written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.clirun import child_environ

# the first input's decoder and the connection, in order, from inside a real run
_ORDER = """
import sys
from bsstream import app
seen = []
open_first, connect = app._open_first, app._connect
def first(state, stack):
    seen.append(("grpc loaded before the decoder", "grpc" in sys.modules))
    open_first(state, stack)
    early = state.first_open
    seen.append(("decoder", early.source.path if early and early.source else None))
def then(state, stack):
    seen.append(("grpc loaded before the connection", "grpc" in sys.modules))
    connect(state, stack)
app._open_first, app._connect = first, then
from bsstream.cli import main
status = main(sys.argv[1:])
print("SEEN", status, seen, file=sys.stderr)
"""


def test_the_first_inputs_ffmpeg_starts_before_grpc_loads(testdata: Path) -> None:
    mp3 = testdata / "07_commonvoice_en_651325_48k_mono.mp3"
    done = subprocess.run(
        [sys.executable, "-c", _ORDER, "analyze", str(mp3), "--local", "--json"],
        capture_output=True, text=True, timeout=120, env=child_environ(),
    )  # fmt: skip
    seen = [line for line in done.stderr.splitlines() if line.startswith("SEEN")]
    assert seen, done.stderr[-2000:]
    assert seen[0] == (
        "SEEN 0 [('grpc loaded before the decoder', False), ('decoder', 'ffmpeg'), "
        "('grpc loaded before the connection', False)]"
    )
    assert '"end"' in done.stdout  # and the stream ran to its end


def test_a_first_input_that_cannot_be_opened_is_told_in_its_turn(testdata: Path, tmp_path: Path) -> None:
    """Opened early or not, a broken first input is one line and exit 4, after which the next
    input streams; the order of the lines is the inputs' order."""
    bad = tmp_path / "a-broken.mp3"
    bad.write_bytes(b"this is not audio at all " * 40)
    good = testdata / "01_jfk_16k_mono_s16.wav"
    done = subprocess.run(
        [sys.executable, "-m", "bsstream", "analyze", str(bad), str(good), "--local", "--json"],
        capture_output=True, text=True, timeout=120, env=child_environ(),
    )  # fmt: skip
    assert done.returncode == 4, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a-broken.mp3" in errors[0]
    assert '"end"' in done.stdout and str(good) in done.stdout


_HANDLER = """
import atexit, sys
atexit.register(lambda: print("handler ran", file=sys.stderr))
sys.argv = ["bsstream"] + sys.argv[1:]
from bsstream.cli import entry
entry()
"""


def test_the_entry_point_runs_exit_handlers_and_flushes_before_it_ends(testdata: Path) -> None:
    wav = testdata / "01_jfk_16k_mono_s16.wav"
    done = subprocess.run(
        [sys.executable, "-c", _HANDLER, "analyze", str(wav), "--local", "--json"],
        capture_output=True, text=True, timeout=120, env=child_environ(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.rstrip().endswith("handler ran")
    lines = done.stdout.splitlines()
    assert lines and '"end"' in lines[-1]  # the last line written, not lost in a buffer
    bad = subprocess.run(
        [sys.executable, "-c", _HANDLER, "analyze", str(testdata / "no-such.wav"), "--local"],
        capture_output=True, text=True, timeout=120, env=child_environ(),
    )  # fmt: skip
    assert bad.returncode == 4 and "handler ran" in bad.stderr
