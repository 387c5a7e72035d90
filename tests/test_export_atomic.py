"""Atomic export writing: a failed or killed run never leaves a half file under the final name."""

from __future__ import annotations

import errno
import gc
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bsstream.export import open_exports
from bsstream.export.atomic import AtomicFile, host_tag, remove_stale_temporaries
from bsstream.export.csvfile import CsvExport
from bsstream.export.html import HtmlExport
from bsstream.export.jsondoc import JsonDocExport
from bsstream.export.jsonl import JsonlExport
from bsstream.export.subtitles import SrtExport, VttExport
from bsstream.protocol.stream import FanOut
from tests.test_export_formats import INFOS, drive, fixture_messages, load_fixture


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_file_commit_and_discard(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with AtomicFile(target) as f:
        f.write_text("hello ñandú\n")
        assert not target.exists()  # only the hidden temporary file so far
        assert [p.name.startswith(".out.txt.") for p in tmp_path.iterdir()] == [True]
    assert target.read_text(encoding="utf-8") == "hello ñandú\n"
    assert names(tmp_path) == ["out.txt"]

    with pytest.raises(RuntimeError), AtomicFile(tmp_path / "other.txt") as f:
        f.write_text("half")
        raise RuntimeError("killed")
    assert names(tmp_path) == ["out.txt"]


def test_an_existing_file_survives_a_failed_run_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError), AtomicFile(target) as f:
        f.write_text("new, half")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old\n"
    with AtomicFile(target) as f:
        f.write_text("new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert names(tmp_path) == ["out.csv"]


def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        with AtomicFile(tmp_path / "x.json") as f:
            f.write_text("{}")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644


def test_dropped_atomic_file_removes_its_temporary(tmp_path: Path) -> None:
    f = AtomicFile(tmp_path / "out.jsonl")
    f.write_text("{}\n")
    assert len(names(tmp_path)) == 1
    del f
    gc.collect()
    assert names(tmp_path) == []


@pytest.mark.parametrize("cls", [JsonlExport, JsonDocExport, CsvExport, SrtExport, VttExport, HtmlExport])
def test_exception_before_close_leaves_nothing(tmp_path: Path, cls: type) -> None:
    target = tmp_path / f"out{cls.__name__}"
    sink = cls(target)
    try:
        sink.begin(INFOS["call.wav"])
        for m in fixture_messages("call.wav")[:2]:
            sink.message(m)
        raise KeyboardInterrupt  # the run dies mid-stream
    except KeyboardInterrupt:
        pass
    assert not target.exists()  # never a half file under the final name
    sink.abort()  # the cleanup: drops the temporary file
    assert names(tmp_path) == []
    sink.close()  # close after abort writes nothing
    assert names(tmp_path) == []


def test_dropped_jsonl_export_cleans_up(tmp_path: Path) -> None:
    sink = JsonlExport(tmp_path / "out.jsonl")
    sink.message(fixture_messages()[0])
    del sink
    gc.collect()
    assert names(tmp_path) == []


def test_failing_render_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.html"
    target.write_text("previous report", encoding="utf-8")
    sink = HtmlExport(target)

    def broken() -> str:
        raise ValueError("render failed")

    monkeypatch.setattr(sink, "render", broken)
    with pytest.raises(ValueError):
        drive(sink, load_fixture())
    assert target.read_text(encoding="utf-8") == "previous report"
    assert names(tmp_path) == ["out.html"]


def test_close_is_idempotent_and_all_exports_land(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"o.{ext}") for ext in ("jsonl", "json", "csv", "srt", "vtt", "html")]
    fan = FanOut(open_exports(paths))
    drive(fan, [g for g in load_fixture() if g[0] == "call.wav"])  # its one input succeeds
    fan.close()  # the CLI may close again on its way out
    assert names(tmp_path) == sorted(Path(p).name for p in paths)


def test_a_failed_input_makes_every_export_partial(tmp_path: Path) -> None:
    # the fixture's second input ends with a connection error: every export lands under
    # NAME.partial.EXT and the requested names are not created
    paths = [str(tmp_path / f"o.{ext}") for ext in ("jsonl", "json", "csv", "srt", "vtt", "html")]
    fan = FanOut(open_exports(paths))
    drive(fan, load_fixture())
    fan.close()
    exts = ("jsonl", "json", "csv", "html")
    # subtitles are one file per input, each complete or partial on its own
    subtitles = [f"o.{name}.{ext}" for name in ("call", "second.partial") for ext in ("srt", "vtt")]
    assert names(tmp_path) == sorted([f"o.partial.{ext}" for ext in exts] + subtitles)


# -- every error path removes the temporary; stale ones of dead writers are cleaned -------------


class _FailingFile:
    """The real buffered file, whose final flush fails like a full disk's (ENOSPC)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        return int(self.real.write(data))

    def fileno(self) -> int:
        return int(self.real.fileno())

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self.real.close()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_temporary_name_carries_pid_and_host(tmp_path: Path) -> None:
    f = AtomicFile(tmp_path / "x.jsonl")
    assert f.tmp_path.name.startswith(f".x.jsonl.{os.getpid()}.{host_tag()}.")
    assert f.tmp_path.name.endswith(".tmp")
    f.discard()
    assert names(tmp_path) == []


@pytest.mark.parametrize("how", ["commit", "discard"])
def test_temporary_removed_when_flush_or_close_fails(tmp_path: Path, how: str) -> None:
    target = tmp_path / "x.jsonl"
    f = AtomicFile(target)
    f.write_text("buffered\n")
    f._file = _FailingFile(f._file)  # type: ignore[assignment]
    if how == "commit":
        with pytest.raises(OSError):
            f.commit()
    else:
        f.discard()  # never raises: it is the cleanup
    assert names(tmp_path) == []


def _finished_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return proc.pid
    pytest.skip("the pid of a finished process was reused at once")


def test_remove_stale_temporaries(tmp_path: Path) -> None:
    host, dead, me = host_tag(), _finished_pid(), os.getpid()
    (tmp_path / "sub" / ".hidden").mkdir(parents=True)
    stale = tmp_path / f".a.jsonl.{dead}.{host}.abcd1234.tmp"
    stale_below = tmp_path / "sub" / f".b.wav.jsonl.{dead}.{host}.abcd1234.tmp"
    in_hidden = tmp_path / "sub" / ".hidden" / f".c.jsonl.{dead}.{host}.abcd1234.tmp"
    live = tmp_path / f".d.jsonl.{me}.{host}.abcd1234.tmp"
    other_host = tmp_path / f".e.jsonl.{dead}.{'0' * 6 if host != '0' * 6 else '1' * 6}.abcd1234.tmp"
    old_style = tmp_path / ".f.jsonl.abcd1234.tmp"  # no pid: cannot tell whose, kept
    for p in (stale, stale_below, in_hidden, live, other_host, old_style):
        p.write_text("x")
    as_link = tmp_path / f".g.jsonl.{dead}.{host}.abcd1234.tmp"
    as_link.symlink_to(stale)

    assert remove_stale_temporaries(tmp_path, names=["other.jsonl"]) == []
    assert remove_stale_temporaries(tmp_path, names=["a.jsonl"]) == [stale]
    assert remove_stale_temporaries(tmp_path, recursive=True) == [stale_below]
    for kept in (in_hidden, live, other_host, old_style):
        assert kept.exists()
    assert as_link.is_symlink()
    assert remove_stale_temporaries(tmp_path / "missing") == []
