"""The scaling benchmark (issue 15): many concurrent ``--realtime`` streams from one client process.

    python -m bench.scale                       # 1, 16, 64, 256, 1000 streams of 30 s, every face
    python -m bench.scale --seconds 10          # shorter streams (a quick run; prints, writes nothing)
    python -m bench.scale --faces aio --streams 1000

Each row runs N streams of synthetic 16 kHz mono PCM at once, paced at real time, from ONE
client process (a child of this runner, reaped with ``os.wait4``) against one
:mod:`bench.script_server` process started for the row (it answers a canned segment result per
2 s of audio and an utterance result per 4 s, and notes when each chunk arrived, so the server
never bottlenecks and the lag is measured where the audio lands). Faces:

- ``cli``: ``bsstream analyze F1 .. FN --realtime --jobs N --json -q`` over N WAV files (hard
  links to one generated file), stdout to a file whose ``end`` lines give each input's result
  count and status;
- ``aio``: the library's asyncio face, ``bsstream.aio.stream(...)`` once per stream, all in one
  event loop (``python -m bench.scale --child aio ...``), each stream's source an async generator
  of its own chunks;
- ``grpc``: the floor: a bare ``grpc.aio`` client (one channel, a request generator paced with
  ``asyncio.sleep``, no library), what any client on ``grpc.aio`` pays at the least.

See ``bench/README.md`` ("Scaling") for what each figure means. Not part of ``pytest`` (a full run
takes ~8 min); ``tests/test_bench_scale_smoke.py`` runs 2 streams of 1 s to keep it working.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import datetime
import json
import math
import os
import shutil
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.run import (
    API_KEY,
    CID,
    PY,
    REPO,
    ProbeServer,
    analyze_cmd,
    log,
    machine_info,
    measure,
)
from bench.script_server import DEFAULT_RESULT_EVERY, ScriptRecord, results_for

DEFAULT_STREAMS = (1, 16, 64, 256, 1000)
DEFAULT_SECONDS = 30.0
FACES = ("cli", "aio", "grpc")
RATE = 16000
CHUNK_MS = 250
RESULTS_DIR = REPO / "bench" / "results"

# Targets (issue 15), for the asyncio face at 1,000 streams
TARGET_STREAMS = 1000
TARGET_LAG_P95_MS = 100.0
TARGET_CPU_CORES = 1.0
TARGET_RSS_PER_STREAM_MIB = 0.5

FACE_NAMES = {
    "cli": "CLI `--jobs N`",
    "aio": "`bsstream.aio`",
    "grpc": "bare `grpc.aio` (floor)",
}


# ------------------------------------------------------------------------------- audio


def synthetic_pcm(seconds: float) -> bytes:
    """``seconds`` of 16 kHz mono s16le: a 200 Hz tone whose loudness swells once a second."""
    tile = array.array(
        "h",
        (
            int(6000 * (0.6 + 0.4 * math.sin(math.pi * i / RATE)) * math.sin(2 * math.pi * 200 * i / RATE))
            for i in range(RATE)
        ),
    )
    if sys.byteorder != "little":
        tile.byteswap()
    whole, part = divmod(round(seconds * RATE), RATE)
    return tile.tobytes() * whole + tile.tobytes()[: part * 2]


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return path


def proc_status_kib(key: str) -> int:
    """A ``/proc/self/status`` figure (VmRSS, VmHWM), KiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


# ------------------------------------------------------------------------------- a row


@dataclass
class Row:
    """One face at one concurrency: what the client process, the server and the streams showed."""

    face: str
    streams: int
    seconds: float
    exit_code: int = 0
    wall: float = 0.0  # client process: spawn to reaped
    stream_wall: float = 0.0  # streams launched to the last one ended (cli: the process wall)
    cpu: float = 0.0  # client user + sys, children included (os.wait4)
    server_cpu: float = 0.0  # the script server's user + sys during the row
    peak_rss_mib: float = 0.0  # client ru_maxrss
    base_rss_mib: float | None = None  # see rss_per_stream_mib
    lag_p50_ms: float | None = None
    lag_p95_ms: float | None = None
    lag_max_ms: float | None = None
    first_chunk_p50: float | None = None  # launch (cli: spawn) to a stream's first audio at the server, s
    first_chunk_p95: float | None = None
    results_received: int = 0
    results_expected: int = 0
    streams_ok: int = 0
    calls_seen: int = 0  # calls the server saw end
    errors: list[str] = field(default_factory=list)  # the first few distinct failures
    timed_out: bool = False
    load: float = 0.0  # the machine's 1-minute load average at the row's end (others' work included)

    @property
    def late(self) -> float:
        """How much longer than the audio the streams took (the ideal is ``seconds``)."""
        return self.stream_wall - self.seconds

    @property
    def cores(self) -> float:
        return self.cpu / self.wall if self.wall > 0 else 0.0

    @property
    def rss_per_stream_mib(self) -> float | None:
        """aio/grpc: (peak RSS - RSS just before the streams were launched) / N.
        cli: (peak RSS - the 1-stream row's peak RSS) / (N - 1)."""
        if self.base_rss_mib is None:
            return None
        extra = self.peak_rss_mib - self.base_rss_mib
        if self.face == "cli":
            return extra / (self.streams - 1) if self.streams > 1 else None
        return extra / self.streams


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def server_records(server: ProbeServer) -> list[ScriptRecord]:
    lines = server.records_path.read_text(encoding="utf-8").splitlines()
    return [ScriptRecord.from_json(line) for line in lines if line.strip()]


def wait_records(server: ProbeServer, count: int, timeout: float) -> list[ScriptRecord]:
    """The server's call records once ``count`` calls have ended (or what there is after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        records = server_records(server)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def fill_from_server(row: Row, records: list[ScriptRecord], launched: float) -> None:
    row.calls_seen = len(records)
    lags = [lag for r in records for lag in r.lags]
    for name, q in (("lag_p50_ms", 50), ("lag_p95_ms", 95), ("lag_max_ms", 100)):
        value = percentile(lags, q)
        setattr(row, name, None if value is None else value * 1000.0)
    firsts = [r.first_chunk - launched for r in records if r.first_chunk is not None]
    row.first_chunk_p50 = percentile(firsts, 50)
    row.first_chunk_p95 = percentile(firsts, 95)


def expected_results(seconds: float, every: float = DEFAULT_RESULT_EVERY) -> int:
    """Results per stream: every face asks for both levels (the default), see script_server."""
    return results_for(seconds, every, both_levels=True)


# ------------------------------------------------------------------------------- faces


def run_cli(streams: int, seconds: float, workdir: Path, server: ProbeServer, every: float) -> Row:
    """``bsstream analyze`` over ``streams`` WAV inputs with ``--jobs streams --realtime``."""
    row = Row("cli", streams, seconds, results_expected=streams * expected_results(seconds, every))
    inputs = workdir / f"cli-{streams}"
    inputs.mkdir()
    source = write_wav(inputs / "source.wav", synthetic_pcm(seconds))
    files = []
    for i in range(streams):
        link = inputs / f"call-{i:04d}.wav"
        os.link(source, link)
        files.append(str(link))
    paced = ("--realtime", "--chunk-ms", str(CHUNK_MS), "--jobs", str(streams), "-q")
    cmd = analyze_cmd(files, server, *paced, stats=False)
    out = workdir / f"cli-{streams}.jsonl"
    run = measure(f"cli {streams}", cmd, workdir, timeout=seconds * 4 + 120, stdout_path=out)
    row.exit_code, row.wall, row.stream_wall, row.cpu = run.exit_code, run.wall, run.wall, run.cpu
    row.peak_rss_mib, row.timed_out = run.maxrss_mib, run.timed_out
    with open(out, encoding="utf-8") as f:
        for line in f:
            if not line.startswith('{"end"'):
                continue
            end = json.loads(line)["end"]
            row.results_received += int(end.get("results") or 0)
            if end.get("status") == 0:
                row.streams_ok += 1
            elif end.get("error") and len(row.errors) < 3 and end["error"] not in row.errors:
                row.errors.append(str(end["error"])[:160])
    if not run.ok and run.stderr_tail.strip():
        row.errors.append(run.failure())
    fill_from_server(row, wait_records(server, streams, 10.0 if run.ok else 2.0), run.spawned)
    shutil.rmtree(inputs, ignore_errors=True)
    out.unlink()
    return row


def run_child(
    face: str, streams: int, seconds: float, workdir: Path, server: ProbeServer, every: float
) -> Row:
    """The aio or grpc face: ``python -m bench.scale --child FACE`` holds every stream in one loop."""
    row = Row(face, streams, seconds, results_expected=streams * expected_results(seconds, every))
    report = workdir / f"{face}-{streams}.json"
    # -c rather than -m: the child runs in the work directory, with the repository on its path
    boot = f"import sys; sys.path.insert(0, {str(REPO)!r}); from bench.scale import main; sys.exit(main())"
    cmd = [
        PY,
        "-c",
        boot,
        "--child",
        face,
        "--address",
        server.address,
        "--streams",
        str(streams),
        "--seconds",
        str(seconds),
        "--report",
        str(report),
    ]
    run = measure(f"{face} {streams}", cmd, workdir, timeout=seconds * 4 + 120)
    row.exit_code, row.wall, row.cpu = run.exit_code, run.wall, run.cpu
    row.peak_rss_mib, row.timed_out = run.maxrss_mib, run.timed_out
    launched = run.spawned
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        row.base_rss_mib = data["base_rss_kib"] / 1024
        row.stream_wall = data["ended"] - data["launched"]
        row.results_received = sum(data["results"])
        row.streams_ok = data["ok"]
        row.errors = data["errors"][:3]
        launched = data["launched"]
        report.unlink()
    elif not run.ok:
        row.errors.append(run.failure())
    fill_from_server(row, wait_records(server, streams, 10.0 if run.ok else 2.0), launched)
    return row


def run_row(
    face: str, streams: int, seconds: float, workdir: Path, every: float = DEFAULT_RESULT_EVERY
) -> Row:
    """One row: a fresh script server (answering a result per ``every`` s of audio) and one client."""
    server = ProbeServer(workdir, f"{face}-{streams}", "script", ["--result-every", str(every)])
    try:
        cpu0 = server.cpu_seconds()
        if face == "cli":
            row = run_cli(streams, seconds, workdir, server, every)
        else:
            row = run_child(face, streams, seconds, workdir, server, every)
        row.server_cpu = server.cpu_seconds() - cpu0
        row.load = os.getloadavg()[0]
    finally:
        server.close()
    return row


# ------------------------------------------------------------------------------- the child


async def call_audio(pcm: bytes) -> AsyncIterator[bytes]:
    """One call's audio as a service receives it: 250 ms chunks, each its own bytes object (no
    sharing between streams, so each stream's replay buffer holds its own copies)."""
    step = RATE * 2 * CHUNK_MS // 1000
    view = memoryview(pcm)
    for offset in range(0, len(pcm), step):
        yield bytes(view[offset : offset + step])


async def _aio_stream(pcm: bytes, options: Any, connection: Any) -> int:
    import bsstream.aio

    count = 0
    async for message in bsstream.aio.stream(call_audio(pcm), options=options, connection=connection):
        count += len(message.results)
    return count


async def _grpc_stream(pcm: bytes, channel: Any) -> int:
    from bsstream._gen import api_pb2, api_pb2_grpc

    stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)
    cid, step = int(CID), RATE * 2 * CHUNK_MS // 1000

    async def requests() -> Any:
        loop = asyncio.get_running_loop()
        yield api_pb2.AudioStream(
            cid=cid, x_auth_token=API_KEY, config=api_pb2.AudioConfig(sample_rate_hertz=RATE)
        )
        start = loop.time()
        view = memoryview(pcm)
        for k, offset in enumerate(range(0, len(pcm), step)):
            delay = start + k * CHUNK_MS / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield api_pb2.AudioStream(
                cid=cid, x_auth_token=API_KEY, audio_content=bytes(view[offset : offset + step])
            )

    count = 0
    async for response in stub.StreamAudio(requests()):
        count += len(response.result)
    return count


async def _child(face: str, address: str, streams: int, seconds: float) -> dict[str, Any]:
    pcm = synthetic_pcm(seconds)
    channel: Any = None
    if face == "aio":
        import bsstream
        import bsstream.aio  # imported before the baseline is taken

        connection = bsstream.Connection(endpoint=address, api_key=API_KEY, cid=int(CID), insecure=True)
        options = bsstream.Options(realtime=True, chunk_ms=CHUNK_MS)

        def start() -> Any:  # each stream an async source, paced by the engine (realtime=True)
            return _aio_stream(pcm, options, connection)
    else:
        import grpc

        channel = grpc.aio.insecure_channel(address)

        def start() -> Any:
            return _grpc_stream(pcm, channel)

    base = proc_status_kib("VmRSS")
    ends: list[float] = []

    async def one() -> tuple[int, str | None]:
        try:
            return await start(), None
        except Exception as exc:  # a failed stream is a figure of the row, not the end of it
            return 0, f"{type(exc).__name__}: {exc}"[:200]
        finally:
            ends.append(time.monotonic())

    launched = time.monotonic()
    outcomes = await asyncio.gather(*(one() for _ in range(streams)))
    ended = max(ends, default=time.monotonic())
    if channel is not None:
        await channel.close()
    errors: list[str] = []
    for _, error in outcomes:
        if error is not None and error not in errors:
            errors.append(error)
    return {
        "base_rss_kib": base,
        "hwm_kib": proc_status_kib("VmHWM"),
        "launched": launched,
        "ended": ended,
        "results": [n for n, _ in outcomes],
        "ok": sum(1 for _, error in outcomes if error is None),
        "errors": errors[:5],
    }


def child_main(args: argparse.Namespace) -> int:
    data = asyncio.run(_child(args.child, args.address, args.streams, args.seconds))
    Path(args.report).write_text(json.dumps(data), encoding="utf-8")
    return 0 if data["ok"] == args.streams else 1


# ------------------------------------------------------------------------------- the table


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def verdict(ok: bool | None) -> str:
    return {True: "**pass**", False: "**FAIL**", None: "not measured"}[ok]


def targets(rows: list[Row]) -> list[tuple[str, str, str]]:
    row = next((r for r in rows if r.face == "aio" and r.streams == TARGET_STREAMS), None)
    complete = row is not None and row.streams_ok == row.streams and not row.timed_out
    out = []
    out.append(
        (
            f"p95 pacing lag ≤ {TARGET_LAG_P95_MS:.0f} ms",
            "n/a" if row is None else f"{fmt(row.lag_p95_ms)} ms",
            verdict(
                None
                if row is None or row.lag_p95_ms is None
                else complete and row.lag_p95_ms <= TARGET_LAG_P95_MS
            ),
        )
    )
    out.append(
        (
            f"client CPU ≤ {TARGET_CPU_CORES:g} core (CPU s / wall s)",
            "n/a" if row is None else f"{row.cpu:.1f} CPU s / {row.wall:.1f} s = {row.cores:.2f}",
            verdict(None if row is None else complete and row.cores <= TARGET_CPU_CORES),
        )
    )
    per = None if row is None else row.rss_per_stream_mib
    out.append(
        (
            f"RSS per stream ≤ {TARGET_RSS_PER_STREAM_MIB} MiB ((peak − RSS before the streams) / N)",
            "n/a"
            if row is None or per is None
            else f"{per * 1024:.0f} KiB (peak {row.peak_rss_mib:.0f} MiB, "
            f"before {fmt(row.base_rss_mib, 0)} MiB)",
            verdict(None if per is None else complete and per <= TARGET_RSS_PER_STREAM_MIB),
        )
    )
    return out


def render(
    rows: list[Row], seconds: float, machine: list[tuple[str, str]], started: datetime.datetime
) -> str:
    lines: list[str] = []
    add = lines.append
    add("# bsstream scaling benchmark (issue 15)\n")
    add(
        f"Generated by `python -m bench.scale` on {started:%Y-%m-%d %H:%M %Z}: N concurrent streams of "
        f"{seconds:g} s of synthetic 16 kHz mono PCM each, `--realtime` pacing, {CHUNK_MS} ms chunks, "
        "from one client process against `bench/script_server.py` (one process, `grpc.aio`: "
        f"a canned segment result per {DEFAULT_RESULT_EVERY:g} s of audio, an utterance result per "
        f"{2 * DEFAULT_RESULT_EVERY:g} s). "
        "See `bench/README.md` (Scaling) for what each figure means.\n"
    )
    add("| machine | |\n|---|---|")
    for key, value in machine:
        add(f"| {key} | {value} |")
    add("")
    add(f"## Targets (issue 15: the asyncio face at {TARGET_STREAMS} streams)\n")
    add("| target | measured | result |\n|---|---|---|")
    for target, measured, result in targets(rows):
        add(f"| {target} | {measured} | {result} |")
    add("")
    add("## The curve\n")
    add(
        "| face | streams | ok | results recv / expected | wall s | late s | client CPU s | CPU / wall | "
        "server CPU / wall | peak RSS MiB | RSS / stream KiB | lag p50 ms | lag p95 ms | lag max ms | "
        "first chunk p95 s | load |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = r.rss_per_stream_mib
        server = r.server_cpu / r.wall if r.wall > 0 else 0.0
        ok = f"{r.streams_ok}" + (" (timed out)" if r.timed_out else "")
        add(
            f"| {FACE_NAMES[r.face]} | {r.streams} | {ok} | {r.results_received} / {r.results_expected} | "
            f"{r.wall:.1f} | {r.late:.2f} | {r.cpu:.2f} | {r.cores:.2f} | {server:.2f} | "
            f"{r.peak_rss_mib:.0f} | "
            f"{'n/a' if per is None else f'{per * 1024:.0f}'} | {fmt(r.lag_p50_ms)} | {fmt(r.lag_p95_ms)} | "
            f"{fmt(r.lag_max_ms)} | {fmt(r.first_chunk_p95, 2)} | {r.load:.1f} |"
        )
    failures = [(r, e) for r in rows for e in r.errors]
    if failures:
        add("\nFailures (first few per row):\n")
        for r, error in failures:
            add(f"- {FACE_NAMES[r.face]} × {r.streams}: `{error}`")
    add("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- main


def run_all(faces: Sequence[str], counts: Sequence[int], seconds: float, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    for face in faces:
        base: float | None = None
        for n in counts:
            log(f"{face}: {n} stream(s) of {seconds:g} s")
            row = run_row(face, n, seconds, workdir)
            if face == "cli":
                if n == 1:
                    base = row.peak_rss_mib
                row.base_rss_mib = base
            log(
                f"{face} {n}: ok {row.streams_ok}/{n}, "
                f"results {row.results_received}/{row.results_expected}, "
                f"CPU {row.cpu:.1f} s / wall {row.wall:.1f} s, peak {row.peak_rss_mib:.0f} MiB, "
                f"lag p95 {fmt(row.lag_p95_ms)} ms" + (f"; {row.errors[0]}" if row.errors else "")
            )
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description="The scaling benchmark (issue 15)."
    )
    parser.add_argument(
        "--faces", default="cli,aio,grpc", help="comma-separated: cli, aio, grpc (default all)"
    )
    parser.add_argument(
        "--streams",
        default=",".join(map(str, DEFAULT_STREAMS)),
        help="comma-separated concurrency levels (default 1,16,64,256,1000)",
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="audio per stream (default 30)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the table here (default for a full run: bench/results/scale.md; else stdout only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    # the child's side (the aio and grpc faces run there)
    parser.add_argument("--child", choices=("aio", "grpc"), help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.streams = int(args.streams)
        return child_main(args)

    faces = [f.strip() for f in args.faces.split(",") if f.strip()]
    if not faces or any(f not in FACES for f in faces):
        parser.error(f"--faces: choose from {', '.join(FACES)}")
    try:
        counts = [int(n) for n in args.streams.split(",")]
    except ValueError:
        parser.error("--streams: comma-separated whole numbers")
    if any(n < 1 for n in counts) or not args.seconds > 0:
        parser.error("--streams and --seconds must be positive")
    full = args.seconds == DEFAULT_SECONDS and tuple(counts) == DEFAULT_STREAMS and len(faces) == len(FACES)
    out: Path | None = args.out if args.out is not None else (RESULTS_DIR / "scale.md" if full else None)

    started = datetime.datetime.now().astimezone()
    workdir = Path(tempfile.mkdtemp(prefix="bsscale-"))
    try:
        rows = run_all(faces, counts, args.seconds, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(rows, args.seconds, machine_info(), started)
    print(text, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        out.with_suffix(".json").write_text(
            json.dumps([asdict(r) for r in rows], indent=1) + "\n", encoding="utf-8"
        )
        log(f"wrote {out} and {out.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
