"""The benchmark's comparison clients still do the work bsstream does: the vendor-documented
baseline and the floor client (bench/floor_client.py) send the byte-counting server the same
audio as ``bsstream analyze``, chunk for chunk. The benchmark itself is not a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import ProbeServer, analyze_cmd, baseline_cmd, floor_cmd, measure

RECORDINGS = ["05_vctk_p286_011_48k_mono_s16.wav", "07_commonvoice_en_651325_48k_mono.mp3"]


@pytest.mark.parametrize("recording", RECORDINGS)
def test_every_client_sends_the_same_audio(recording: str, testdata: Path, tmp_path: Path) -> None:
    server = ProbeServer(tmp_path, "count")
    try:
        sent = {}
        for client, cmd in (
            ("bsstream", analyze_cmd(testdata / recording, server)),
            ("baseline", baseline_cmd(testdata / recording, server)),
            ("floor", floor_cmd(testdata / recording, server)),
        ):
            run = measure(client, cmd, tmp_path, server)
            assert run.ok, (client, run.failure())
            assert run.call is not None and run.call.sample_rate == 16000, client
            sent[client] = (run.call.chunks, run.call.audio_bytes)
    finally:
        server.close()
    chunks, size = sent["bsstream"]
    assert size > 16000 * 2  # more than a second of audio
    for client in ("baseline", "floor"):
        # the same chunking; the resamplers differ (pydub's audioop.ratecv) by a few samples in length
        assert abs(sent[client][0] - chunks) <= 1, (client, sent)
        assert abs(sent[client][1] - size) <= 64, (client, sent)
