"""The hostile-input corpus (issue 12, items 6-8): malformed and odd inputs generated here,
each with its documented exit code and one-line message (README "Bad input"), each also run
in a batch beside a good recording that must still complete.

- every case alone, in-process (``bsstream.cli.main``) against one shared emulator: the exit
  code, exactly one ``error:`` line for errors, one ``warning:`` line per warning (and the
  same warning as a JSON ``input_warning`` event), never a traceback or a raw control character;
- all file cases in ONE real ``bsstream analyze --local --json`` process with a good file
  first and last: each case's status in the end-of-run report is its exit code, and the good
  file's results are exactly those it gets alone;
- stdin cases, alone and beside the good file;
- waiting for input: a FIFO with no writer ends on SIGINT / SIGTERM (130) and on --timeout
  (5), stdin with no data on --timeout, a terminal on stdin is a usage error (2).
"""

from __future__ import annotations

import io
import json
import math
import os
import pty
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bsstream.render import display_text
from tests.clirun import bsstream

GOOD = "01_jfk_16k_mono_s16.wav"
KEY = "sk-corpus-RECOGNISABLE-4242"
NOTE = "note:"

# --- building WAV files byte by byte ------------------------------------------------------


def chunk(cid: bytes, payload: bytes, *, size: int | None = None, pad: bool = True) -> bytes:
    """A RIFF chunk; ``size`` overrides the length field; the pad byte after odd payloads."""
    n = len(payload) if size is None else size
    return cid + struct.pack("<I", n) + payload + (b"\x00" if pad and len(payload) % 2 else b"")


def riff(*chunks: bytes, riff_size: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def fmt_body(tag: int = 1, ch: int = 1, rate: int = 16000, bits: int = 16, align: int | None = None) -> bytes:
    align = ch * ((bits + 7) // 8) if align is None else align
    return struct.pack("<HHIIHH", tag, ch, rate, rate * align, align, bits)


def fmt(tag: int = 1, ch: int = 1, rate: int = 16000, bits: int = 16, align: int | None = None) -> bytes:
    return chunk(b"fmt ", fmt_body(tag, ch, rate, bits, align))


GUID_SUFFIX = bytes.fromhex("000000001000800000aa00389b71")


def ext_fmt(guid: bytes, ch: int = 2, rate: int = 44100, bits: int = 16) -> bytes:
    extra = struct.pack("<HHI", 22, bits, 3 if ch == 2 else 4) + guid
    return chunk(b"fmt ", fmt_body(0xFFFE, ch, rate, bits) + extra)


def samples(seconds: float, *, rate: int = 16000, ch: int = 1, kind: str = "s16") -> bytes:
    """A 220 Hz tone in the given layout (interleaved channels)."""
    out = bytearray()
    for i in range(int(seconds * rate)):
        x = 0.3 * math.sin(2 * math.pi * 220 * i / rate)
        if kind == "u8":
            frame = bytes([128 + int(x * 127)])
        elif kind == "s16":
            frame = struct.pack("<h", int(x * 32767))
        elif kind == "s24":
            frame = struct.pack("<i", int(x * 8388607))[:3]
        elif kind == "s32":
            frame = struct.pack("<i", int(x * 2147483647))
        elif kind == "f32":
            frame = struct.pack("<f", x)
        elif kind == "f64":
            frame = struct.pack("<d", x)
        else:  # a-law / mu-law: any byte is a valid code; a coarse tone is enough
            frame = bytes([0xD5 ^ (int((x + 0.5) * 15) & 0x7F)])
        out += frame * ch
    return bytes(out)


def wav(data: bytes, *, data_size: int | None = None, **fmt_args: int) -> bytes:
    return riff(fmt(**fmt_args), chunk(b"data", data, size=data_size))


TONE = samples(0.5)  # 0.5 s of PCM16 16 kHz mono: 16000 bytes
TONE8K = samples(0.5, rate=8000)  # 8000 bytes


# --- the corpus ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], str]  # builds the input under the folder; returns the INPUT argument
    code: int  # exit code alone (and status in a batch)
    fragment: str  # the error or warning line contains it
    kind: str  # "error", "warning" or "ok"
    seconds: float = 0.5  # audio streamed (not errors): the generated files hold 0.5 s


def file_case(
    name: str, data: bytes, code: int, fragment: str, kind: str, filename: str = "", seconds: float = 0.5
) -> Case:
    def make(folder: Path) -> str:
        path = folder / (filename or f"{name}.wav")
        path.write_bytes(data)
        return str(path)

    return Case(name, make, code, fragment, kind, seconds)


def err(name: str, data: bytes, fragment: str, filename: str = "") -> Case:
    return file_case(name, data, 4, fragment, "error", filename)


def warn(name: str, data: bytes, fragment: str) -> Case:
    return file_case(name, data, 0, fragment, "warning")


def ok(name: str, data: bytes, filename: str = "") -> Case:
    return file_case(name, data, 0, "", "ok", filename)


def _made(make: Callable[[Path], str]) -> Callable[[Path], str]:
    return make


def _directory(folder: Path) -> str:
    (folder / "x.wav").mkdir()
    return str(folder / "x.wav")


def _missing(folder: Path) -> str:
    return str(folder / "never-recorded.wav")


def _symlink_loop(folder: Path) -> str:
    (folder / "loop-a.wav").symlink_to(folder / "loop-b.wav")
    (folder / "loop-b.wav").symlink_to(folder / "loop-a.wav")
    return str(folder / "loop-a.wav")


def _dangling(folder: Path) -> str:
    (folder / "dangling.wav").symlink_to(folder / "gone-target.wav")
    return str(folder / "dangling.wav")


def _random(ext: str) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        path = folder / f"random-bytes.{ext}"
        data = bytes((i * 7919 + (i >> 7) * 31) % 251 for i in range(20000))
        path.write_bytes(data.replace(b"RIFF", b"FFIR"))
        return str(path)

    return make


def _text(folder: Path) -> str:
    path = folder / "minutes.txt"
    path.write_text("meeting minutes, not a recording\n" * 60)
    return str(path)


RATE_1HZ_96K = wav(bytes(96 * 1024), rate=1)  # the memory bomb: 13 hours from 96 KB
RATE_1HZ_1M = wav(bytes(1024 * 1024), rate=1)

CASES: list[Case] = [
    # --- structure ---
    err("empty", b"", "file is empty"),
    err("riff-prefix-only", b"RIFF\x24\x00", "truncated"),
    err("riff-header-only", b"RIFF\x24\x00\x00\x00WAVE", "truncated"),
    err("cut-in-fmt", wav(TONE)[:30], "truncated"),
    err("fmt-missing", riff(chunk(b"data", TONE)), "before its fmt"),
    err("data-before-fmt", riff(chunk(b"data", TONE), fmt()), "before its fmt"),
    err("fmt-too-short", riff(chunk(b"fmt ", b"\x01\x00\x01\x00"), chunk(b"data", TONE)), "too short"),
    err(
        "fmt-implausibly-long",
        riff(chunk(b"fmt ", fmt_body() + bytes(5000)), chunk(b"data", TONE)),
        "implausibly long",
    ),
    err("no-data-chunk", riff(fmt()), "truncated"),
    err("list-chunk-past-end", riff(fmt(), chunk(b"LIST", b"ab", size=0xFFFF00)), "truncated"),
    err(
        "odd-chunk-without-pad-byte",
        riff(chunk(b"JUNK", b"abc", pad=False), fmt(), chunk(b"data", TONE)),
        "WAV",
    ),
    # --- header values no audio can have (item 6) ---
    err("rate-1hz-96k", RATE_1HZ_96K, "sample rate of 1 Hz"),
    err("rate-1hz-1mb", RATE_1HZ_1M, "sample rate of 1 Hz"),
    err("rate-0", wav(TONE, rate=0), "sample rate of 0 Hz"),
    err("rate-999", wav(TONE, rate=999), "sample rate of 999 Hz"),
    err("rate-10mhz", wav(TONE, rate=10_000_000), "sample rate of 10000000 Hz"),
    err("channels-0", wav(TONE, ch=0, align=2), "0 channels"),
    err("channels-1000", wav(TONE, ch=1000), "1000 channels"),
    err("bits-7", wav(TONE, bits=7, align=1), "7 bits per sample"),
    err("bits-0", wav(TONE, bits=0, align=2), "0 bits per sample"),
    err("bits-12", wav(TONE, bits=12, align=2), "12 bits per sample"),
    err("float-16-bits", wav(TONE, tag=3, bits=16), "16 bits per sample for float"),
    err("mulaw-16-bits", wav(TONE, tag=7, bits=16), "16 bits per sample for mu-law"),
    err("block-align-0", wav(TONE, align=0), "block align of 0"),
    err("block-align-wrong", wav(TONE, ch=2, align=2), "block align of 2"),
    err("extensible-unknown-guid", riff(ext_fmt(bytes(range(16))), chunk(b"data", TONE)), "sub-format"),
    err(
        "extensible-too-short",
        riff(chunk(b"fmt ", fmt_body(0xFFFE) + bytes(4)), chunk(b"data", TONE)),
        "too short",
    ),
    err("unknown-format-tag", wav(TONE, tag=0x1234, align=2), "0x1234"),
    # --- no samples ---
    err("zero-length-data", wav(b""), "no audio samples"),
    err("zero-length-data-8k", wav(b"", rate=8000), "no audio samples"),
    # --- not audio at all ---
    Case("random-bytes.wav", _random("wav"), 4, "random-bytes.wav", "error"),
    Case("random-bytes.mp3", _random("mp3"), 4, "random-bytes.mp3", "error"),
    Case("random-bytes.flac", _random("flac"), 4, "random-bytes.flac", "error"),
    Case("text-file", _text, 4, "minutes.txt", "error"),
    # --- the file system ---
    Case("directory-named-x.wav", _directory, 4, "no audio or video files in directory", "error"),
    Case("missing", _missing, 4, "no such file", "error"),
    Case("symlink-loop", _symlink_loop, 4, "symlink loop", "error"),
    Case("dangling-symlink", _dangling, 4, "dangling.wav", "error"),
    err("name-with-newline", b"RIFF\x24\x00", "bad\\x0aname.wav", filename="bad\nname.wav"),
    err("name-with-ansi-escape", b"RIFF\x24\x00", "\\x1b[31mred.wav", filename="\x1b[31mred.wav"),
    err("very-long-name", b"RIFF\x24\x00", "y" * 200, filename="y" * 247 + ".wav"),
    # --- lengths: stream what is there, say what was wrong (item 8) ---
    warn("truncated-data", wav(TONE, data_size=len(TONE) * 3), "file ends 1.00 s before its WAV header says"),
    warn("truncated-data-8k", wav(TONE8K, data_size=len(TONE8K) * 4, rate=8000), "file ends 1.50 s before"),
    warn("truncated-mid-sample", wav(TONE + b"\x01", data_size=len(TONE) + 100), "file ends"),
    warn(
        "truncated-24-bit", wav(samples(0.5, kind="s24"), data_size=48000, bits=24), "file ends 0.50 s before"
    ),
    warn("data-size-ffffffff", wav(TONE, data_size=0xFFFFFFFF), "no data length (0xFFFFFFFF"),
    warn("data-size-ffffffff-8k", wav(TONE8K, data_size=0xFFFFFFFF, rate=8000), "no data length (0xFFFFFFFF"),
    warn("data-size-7fffffff", wav(TONE, data_size=0x7FFFFFFF), "no data length (0x7FFFFFFF"),
    warn("data-size-0-with-samples", wav(TONE, data_size=0), "no data length (0x00000000"),
    warn("odd-data-length", wav(TONE + b"\x01"), "the last 1 byte(s) are ignored"),
    # --- odd but valid: exit 0, nothing said ---
    ok("u8", wav(samples(0.5, rate=8000, kind="u8"), rate=8000, bits=8)),
    ok("s24", wav(samples(0.5, kind="s24"), bits=24)),
    ok("s32", wav(samples(0.5, rate=22050, kind="s32"), rate=22050, bits=32)),
    ok("float32", wav(samples(0.5, rate=44100, ch=2, kind="f32"), rate=44100, ch=2, tag=3, bits=32)),
    ok("float64", wav(samples(0.5, kind="f64"), tag=3, bits=64)),
    ok("alaw", wav(samples(0.5, rate=8000, kind="law"), rate=8000, tag=6, bits=8)),
    ok("mulaw", wav(samples(0.5, rate=8000, kind="law"), rate=8000, tag=7, bits=8)),
    ok(
        "extensible-pcm",
        riff(ext_fmt(b"\x01\x00" + GUID_SUFFIX), chunk(b"data", samples(0.5, rate=44100, ch=2))),
    ),
    ok(
        "odd-chunk-with-pad-byte",
        riff(chunk(b"JUNK", b"abc"), fmt(), chunk(b"LIST", b"INFO"), chunk(b"data", TONE)),
    ),
    ok("wrong-riff-size", riff(fmt(), chunk(b"data", TONE), riff_size=12345)),
    ok("rate-1000", wav(samples(0.5, rate=1000), rate=1000)),
    file_case("rate-384000", wav(samples(0.25, rate=384000), rate=384000), 0, "", "ok", seconds=0.25),
    ok("very-long-name-valid", wav(TONE), filename="z" * 251 + ".wav"),
]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.kind for c in CASES} == {"error", "warning", "ok"}


# --- running the CLI in-process -------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """stderr without the emulator's note."""
        return [x for x in self.err.splitlines() if not x.startswith(NOTE)]

    @property
    def json(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines()]

    def audio_seconds(self, source: str) -> float:
        """Seconds of audio streamed for ``source`` (the --stats line)."""
        (stats,) = [x["stats"] for x in self.json if "stats" in x and x["source"] == source]
        return float(stats["audio_seconds"])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from bsstream.emulator.server import Emulator

    with Emulator() as emu:
        yield f"127.0.0.1:{emu.port}"


@pytest.fixture
def cli(
    endpoint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Run]:
    """``bsstream analyze ARGS --json`` in this process against the shared emulator."""
    from bsstream.cli import main

    for var in [v for v in os.environ if v.startswith(("BS_", "BEHAVIORALSIGNALS_"))]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)  # no .env

    def run(*args: str, stdin: bytes = b"") -> Run:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsys.readouterr()
        connection = ["--endpoint", endpoint, "--insecure", "--cid", "7", "--api-key", KEY]
        code = main(["analyze", *args, "--json", "--stats", *connection])
        out, errs = capsys.readouterr()
        return Run(int(code), out, errs)

    return run


def check_alone(case: Case, spec: str, r: Run) -> None:
    """The rules every case obeys alone."""
    assert r.code == case.code, (case.name, r.err)
    assert "Traceback" not in r.err and KEY not in r.err + r.out
    assert "\x1b" not in r.err, "control characters are escaped"
    if case.kind == "error":
        (line,) = r.lines  # exactly one line
        assert line.startswith("error: ") and case.fragment in line, (case.name, line)
        assert r.out == ""
    elif case.kind == "warning":
        (line,) = r.lines
        assert line.startswith("warning: ") and case.fragment in line, (case.name, line)
        events = [x for x in r.json if x.get("event") == "input_warning"]
        assert events == [{"event": "input_warning", "source": spec, "message": line.split(": ", 2)[2]}]
    else:
        assert r.lines == [], (case.name, r.err)
    if case.kind != "error":  # what is there was streamed
        assert all(x["source"] == spec for x in r.json)
        assert r.audio_seconds(spec) == pytest.approx(case.seconds, abs=0.01), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_alone(case: Case, cli: Callable[..., Run], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    spec = case.make(folder)
    check_alone(case, spec, cli(spec))


def test_memory_bomb_allocates_nothing(tmp_path: Path) -> None:
    """The 96 KB "1 Hz" file: refused from its header, before any decoder or allocation."""
    import tracemalloc

    from bsstream.audio.decode import open_input
    from bsstream.status import InputError

    path = tmp_path / "bomb.wav"
    path.write_bytes(RATE_1HZ_96K)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            open_input(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "1 Hz" in info.value.line()
    assert peak < 1024 * 1024


def test_low_rate_wav_is_not_resampled_in_memory_when_long(tmp_path: Path) -> None:
    """1 kHz, 8-bit: 16 x 2 bytes out per byte in. The in-process resampler streams it a
    second at a time (flat memory), however long; none of it is held whole."""
    import tracemalloc

    from bsstream.audio import decode

    path = tmp_path / "slow.wav"
    path.write_bytes(wav(bytes(128 for _ in range(1_200_000)), rate=1000, bits=8))  # 1200 s
    tracemalloc.start()
    try:
        with decode.open_input(str(path)) as source:
            assert source.path == "soxr"
            assert source.duration == pytest.approx(1200.0)
            got = sum(len(b) for b in source.blocks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == pytest.approx(1200.0 * 32000, abs=320)
    assert peak < 2 * 1024 * 1024  # the output is 37 MiB
    small = tmp_path / "slow-short.wav"
    small.write_bytes(wav(samples(2.0, rate=1000, kind="u8"), rate=1000, bits=8))
    with decode.open_input(str(small)) as source:
        assert source.path == "soxr"
        got = sum(len(b) for b in source.blocks())
    assert got == pytest.approx(2.0 * 32000, abs=320)


# --- the batch: every file case beside a good recording -----------------------------------------


def _report_status(stderr: str, spec: str) -> str:
    prefix = display_text(spec) + ": "
    found = [line[len(prefix) :] for line in stderr.splitlines() if line.startswith(prefix)]
    assert found, f"no report line for {spec!r}"
    return found[-1].split(",")[0]


def _results(lines: list[dict], source: str) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in x.items() if k not in ("source", "pid")}, sort_keys=True)
        for x in lines
        if x.get("source") == source and "result" in x
    )


def test_every_case_in_one_batch_beside_a_good_file(tmp_path: Path, testdata: Path) -> None:
    from bsstream.batch.report import status_word

    folder = tmp_path / "in"
    folder.mkdir()
    good_first, good_last = tmp_path / "good-first.wav", tmp_path / "good-last.wav"
    good_first.write_bytes((testdata / GOOD).read_bytes())
    good_last.write_bytes((testdata / GOOD).read_bytes())
    specs = [c.make(folder) for c in CASES]
    env = {k: None for k in os.environ if k.startswith("BEHAVIORALSIGNALS_")}  # BS_* are left out anyway
    argv = ["analyze", "--local", "--json", str(good_first), *specs, str(good_last)]
    proc = bsstream(*argv, env=env, cwd=tmp_path, timeout=120)
    out, errs = proc.out, proc.err
    assert proc.code == 4, errs  # the most severe: input errors
    assert "Traceback" not in errs and "\x1b" not in errs
    lines = [json.loads(line) for line in out.splitlines()]

    # each case: its report status is its exit code alone; its error or warning line was said
    for case, spec in zip(CASES, specs, strict=True):
        assert _report_status(errs, spec) == status_word(case.code), (case.name, errs)
        shown = display_text(spec)
        said = [x for x in errs.splitlines() if x.startswith(("error: ", "warning: ")) and shown in x]
        if case.kind == "ok":
            assert said == [], case.name
        else:
            assert len(said) == 1 and case.fragment in said[0], (case.name, said)
            assert said[0].startswith("error: " if case.kind == "error" else "warning: ")
        if case.kind == "warning":
            assert any(x.get("event") == "input_warning" and x["source"] == spec for x in lines), case.name

    # the good file, before and after every bad one: complete, exactly as alone
    alone = bsstream("analyze", "--local", "--json", str(good_first), env=env, cwd=tmp_path)
    assert alone.code == 0
    expected = _results([json.loads(x) for x in alone.out.splitlines()], str(good_first))
    assert expected, "the good file gives results"
    assert _results(lines, str(good_first)) == expected
    assert _results(lines, str(good_last)) == expected
    assert _report_status(errs, str(good_first)) == "ok" == _report_status(errs, str(good_last))


# --- stdin ---------------------------------------------------------------------------------------


STDIN_CASES: list[tuple[str, bytes, int, str, str]] = [
    # name, bytes, exit code, fragment, kind
    ("stdin-empty", b"", 4, "stdin is empty", "error"),
    ("stdin-text", b"not audio at all\n" * 200, 4, "stdin", "error"),
    ("stdin-rate-1hz", RATE_1HZ_96K, 4, "sample rate of 1 Hz", "error"),
    ("stdin-bits-7", wav(TONE, bits=7, align=1), 4, "7 bits per sample", "error"),
    ("stdin-channels-0", wav(TONE, ch=0, align=2), 4, "0 channels", "error"),
    ("stdin-cut-in-header", wav(TONE)[:40], 4, "truncated", "error"),
    (
        "stdin-truncated-16k",
        wav(TONE, data_size=len(TONE) * 2),
        0,
        "input ended 0.50 s before its WAV header",
        "warning",
    ),
    (
        "stdin-truncated-8k",
        wav(TONE8K, data_size=len(TONE8K) * 3, rate=8000),
        0,
        "input ended 1.00 s before",
        "warning",
    ),
    ("stdin-placeholder-length", wav(TONE, data_size=0xFFFFFFFF), 0, "", "ok"),  # normal on a pipe
]


@pytest.mark.parametrize(
    ("name", "data", "code", "fragment", "kind"), STDIN_CASES, ids=[c[0] for c in STDIN_CASES]
)
def test_stdin_case_alone_and_beside_a_good_file(
    name: str, data: bytes, code: int, fragment: str, kind: str, cli: Callable[..., Run], testdata: Path
) -> None:
    case = Case(name, lambda _: "-", code, fragment, kind)
    r = cli("-", stdin=data)
    check_alone(case, "stdin", r)

    good = str(testdata / GOOD)
    both = cli("-", good, stdin=data)
    assert both.code == code
    assert _report_status(both.err, good) == "ok"
    assert _report_status(both.err, "stdin").startswith("ok" if code == 0 else "input error")
    alone = cli(good)
    assert _results(both.json, good) == _results(alone.json, good) != []


# --- waiting for input (item 7): real processes, real signals -------------------------------------


def _start(*args: str, stdin: int | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "BEHAVIORALSIGNALS_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "bsstream", "analyze", "--local", "--json", *args],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


def _wait_until_open(proc: subprocess.Popen[bytes], path: Path) -> None:
    """Until the process holds ``path`` open (it is then waiting for a writer)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        fds = Path(f"/proc/{proc.pid}/fd")
        try:
            if any(os.readlink(fd) == str(path) for fd in fds.iterdir()):
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("the FIFO was never opened")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see the FIFO opened")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_fifo_without_writer_ends_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    fifo = tmp_path / "live.fifo"
    os.mkfifo(fifo)
    proc = _start(str(fifo))
    try:
        _wait_until_open(proc, fifo)
        proc.send_signal(sig)
        out, errs = proc.communicate(timeout=15)  # it ends (before: only SIGKILL ended it)
    finally:
        proc.kill()
    # README: interrupted (Ctrl-C) 130, terminated (SIGTERM) 143
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), errs
    lines = [x for x in errs.decode().splitlines() if not x.startswith(NOTE)]
    assert lines == ["interrupted"]  # no file was written, so none is claimed
    assert out == b""


def test_fifo_without_writer_ends_on_timeout_beside_a_good_file(tmp_path: Path, testdata: Path) -> None:
    fifo = tmp_path / "nobody-writes.fifo"
    os.mkfifo(fifo)
    good = str(testdata / GOOD)
    proc = _start("--timeout", "1", str(fifo), good)
    out, errs = proc.communicate(timeout=60)
    text = errs.decode()
    assert proc.returncode == 5, text  # README: no input within --timeout
    said = [x for x in text.splitlines() if x.startswith("error: ")]
    assert said == [
        f"error: {fifo}: no input within 1 s (no writer opened the FIFO) "
        "(start the program that writes the audio, or raise --timeout)"
    ]
    assert _report_status(text, good) == "ok"
    assert any(json.loads(x).get("source") == good for x in out.decode().splitlines())


def test_fifo_with_a_writer_streams(tmp_path: Path, testdata: Path) -> None:
    fifo = tmp_path / "writer.fifo"
    os.mkfifo(fifo)
    proc = _start(str(fifo))
    _wait_until_open(proc, fifo)
    with open(fifo, "wb") as w:
        w.write((testdata / GOOD).read_bytes())
    out, errs = proc.communicate(timeout=60)
    assert proc.returncode == 0, errs
    assert any(json.loads(x).get("result") for x in out.decode().splitlines())


@pytest.mark.parametrize("rate", [16000, 8000], ids=["native", "ffmpeg"])
def test_cancel_ends_a_stalled_live_input(rate: int) -> None:
    """A writer that stops mid-stream without closing: setting ``cancel`` (what Ctrl-C and
    SIGTERM do) ends the consumer with the audio read so far, no error, and no wait for the
    interrupt's grace period."""
    import threading

    from bsstream.audio.decode import open_input

    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    cancel = threading.Event()
    try:
        writer.write(wav(samples(1.0, rate=rate), data_size=rate * 2 * 3, rate=rate))  # says 3 s
        writer.flush()
        source = open_input("-", stdin=reader, cancel=cancel)
        got: list[int] = []
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                got.extend(len(b) for b in source.blocks())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        deadline = time.monotonic() + 20
        while sum(got) < 16000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert consumer.is_alive(), "the consumer waits for the rest"
        cancel.set()
        consumer.join(10)
        assert not consumer.is_alive(), "cancel did not end the consumer"
        assert errors == [] and sum(got) >= 16000
        assert source.warnings == []  # cut short by us, not by the input
    finally:
        writer.close()
        reader.close()


def test_stdin_pipe_with_no_data_ends_on_timeout() -> None:
    proc = _start("--timeout", "1", "-", stdin=subprocess.PIPE)
    try:
        proc.wait(timeout=30)  # stdin stays open and empty
        assert proc.stderr is not None
        errs = proc.stderr.read().decode()
    finally:
        proc.kill()
        assert proc.stdin is not None
        proc.stdin.close()
    assert proc.returncode == 5
    assert "error: stdin: no input within 1 s (nothing was written to it)" in errs


def test_stdin_that_is_a_terminal_is_a_usage_error() -> None:
    leader, follower = pty.openpty()
    try:
        proc = _start("-", stdin=follower)
        _, errs = proc.communicate(timeout=30)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert errs.decode().splitlines() == [
        "error: stdin is a terminal: pipe audio in, e.g. "
        "arecord -q -f S16_LE -r 16000 -c 1 -t wav | bsstream analyze -"
    ]


def test_unreadable_file_in_a_batch(tmp_path: Path, testdata: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root, which reads a mode-000 file anyway (see test_bad_input_decode)")
    locked = tmp_path / "locked.wav"
    locked.write_bytes(wav(TONE))
    locked.chmod(0)
    good = str(testdata / GOOD)
    proc = _start(str(locked), good)
    _, errs = proc.communicate(timeout=60)
    assert proc.returncode == 4
    assert [x for x in errs.decode().splitlines() if x.startswith("error: ")] == [
        f"error: {locked}: permission denied (check the file permissions (it must be readable))"
    ]
    assert _report_status(errs.decode(), good) == "ok"
