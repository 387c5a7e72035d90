"""The scaling benchmark (bench/scale.py) still runs: 2 streams of 1 s per face through the script
server, every figure filled in. The benchmark itself (1 to 1,000 streams of 30 s) is not a test."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.scale import FACE_NAMES, Row, render, run_row


def test_two_short_streams_per_face_through_the_script_server(tmp_path: Path) -> None:
    faces = ("cli", "aio")
    (tmp_path / "cli").mkdir()
    (tmp_path / "aio").mkdir()
    # the two faces side by side (each its own server and client process): the test takes ~1.5 s
    with ThreadPoolExecutor(len(faces)) as pool:
        rows: list[Row] = list(
            pool.map(lambda face: run_row(face, 2, 1.0, tmp_path / face, every=0.5), faces)
        )
    for row in rows:
        assert row.errors == [], (row.face, row.errors)
        assert (row.exit_code, row.streams_ok, row.calls_seen) == (0, 2, 2), row
        # a segment result per 0.5 s of audio and an utterance result per 1 s, every one received
        assert row.results_expected == 6
        assert row.results_received == 6, row
        assert row.lag_p95_ms is not None and row.first_chunk_p95 is not None
        assert row.cpu > 0 and row.peak_rss_mib > 0 and row.server_cpu >= 0
        assert row.wall >= 0.7, "two paced 1 s streams cannot end much before 1 s"
    aio = rows[1]
    assert aio.base_rss_mib is not None and aio.rss_per_stream_mib is not None
    table = render(rows, 1.0, [("machine", "test")], datetime.datetime.now().astimezone())
    for face in faces:
        assert f"| {FACE_NAMES[face]} | 2 | 2 | 6 / 6 |" in table
