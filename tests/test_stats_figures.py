"""--stats figures as a small frozen dataclass: measured by the engine, written as the stats
line's object, read back by replay (a saved file's figures written back exactly)."""

from __future__ import annotations

from bsstream.protocol.stats import Stats, stats_dict


def test_measured_figures_are_the_stats_line() -> None:
    args = {"audio_seconds": 10.0, "wall_seconds": 2.0, "messages": 3, "results": 9, "latencies": [0.1, 0.2]}
    stats = Stats.measured(**args)  # type: ignore[arg-type]
    assert stats.to_json() == stats_dict(**args)  # type: ignore[arg-type]
    assert list(stats.to_json()) == list(stats_dict(**args))  # type: ignore[arg-type]
    assert (stats.real_time_factor, stats.results, stats.latency_p95) == (0.2, 9, 0.195)


def test_saved_figures_are_written_back_as_read() -> None:
    saved = {"results": 3, "rtf": "fast", "audio_seconds": True}
    stats = Stats.from_json(saved)
    assert stats.to_json() == saved
    assert (stats.results, stats.audio_seconds, stats.real_time_factor) == (3, 0.0, None)  # bool is no number
    measured = Stats.measured(audio_seconds=1, wall_seconds=1, messages=1, results=1, latencies=[])
    assert Stats.from_json(measured.to_json()) == Stats(1.0, 1.0, 1.0, 1, 1, None, None)
