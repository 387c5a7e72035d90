"""--duration on a capture that stalls: the run still ends.

ffmpeg's ``-t`` counts the samples it has seen, so a device that stops delivering (a PulseAudio
pipe source whose writer went quiet, an unplugged USB microphone) would keep a ``--duration``
capture waiting for ever. ``stop_after`` closes the source by the clock; here a real ffmpeg
reads a FIFO whose writer sends 0.3 s of audio and then holds it open without writing.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from bsstream.audio import decode
from bsstream.audio.piped import stop_after


def test_a_stalled_capture_with_a_duration_still_ends(tmp_path: Path) -> None:
    fifo = tmp_path / "device"
    os.mkfifo(fifo)
    release = threading.Event()

    def device() -> None:  # 0.3 s of a 16 kHz mono s16le signal, then silence on the wire
        with open(fifo, "wb") as f:
            f.write(b"\x10\x00\xf0\xff" * 2400)
            f.flush()
            release.wait(60)

    writer = threading.Thread(target=device, daemon=True)
    writer.start()
    pipe = decode._start_ffmpeg(
        "mic:test",
        decode.file_url(str(fifo)),
        input_options=["-t", "2", "-f", "s16le", "-ar", "16000", "-ac", "1"],
        live=True,
    )
    source = stop_after(decode._FfmpegSource("mic:test", pipe, duration=2.0), 1.0)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(source.blocks()), daemon=True)
    reader.start()
    reader.join(30)  # without the guard it never ends: ffmpeg waits for samples 0.3-2 s
    try:
        assert not reader.is_alive(), "the capture did not end after its --duration"
        assert source.closed
        assert 0 < sum(len(b) for b in got) <= 9600  # what arrived was kept, nothing made up
    finally:
        release.set()
        source.close()
