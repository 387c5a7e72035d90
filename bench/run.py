"""The bsstream benchmark: one command, one table.

    python -m bench.run [--quick] [--out bench/results.md]

Generates its inputs in a temporary directory (deleted at the end), starts the loopback
probe server (:mod:`bench.probe_server`: the emulator plus arrival times) in its own
process, and runs every client as a child process against it, measuring wall time, CPU
time and peak RSS from ``os.wait4`` and the time from process start to the first audio
chunk at the server (both sides read ``time.monotonic()``, one clock for the machine).
See ``bench/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.serverutil import CallRecord

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "bench" / "baseline_client.py"
FLOOR = REPO / "bench" / "floor_client.py"
DEFAULT_SPEECH = REPO / "tests" / "data" / "10_voxconverse_aepyx_8k_mono_s16_169s.wav"
PY = sys.executable
CID, API_KEY = "1", "k"
MIB = 1024 * 1024

FULL_MINUTES = (1, 20, 120)
QUICK_MINUTES = (1, 20)
REALTIME_MINUTES = 10
QUICK_REALTIME_MINUTES = 2
LOCAL_MINUTES = 60
QUICK_LOCAL_MINUTES = 10
HELP_RUNS = 20
RUN_TIMEOUT = 900.0  # seconds any one client may take before it is killed (and recorded so)

# Targets from issues 5 and 17 (and issue 3's emulator speed).
TARGET_RSS_MIB = 64.0
TARGET_FIRST_CHUNK_S = 0.3
TARGET_DRIFT_MS = 50.0
TARGET_LOCAL_HOUR_S = 60.0
# bsstream / baseline, unpaced against the byte-counting server (issue 17)
TARGET_WALL_RATIO = {1: 0.6, 20: 0.5, 120: 0.6}
SHORT_MINUTES = 1  # inputs this short are also streamed by the floor client (bench/floor_client.py)
RUNS = 3  # each client on each input, the best wall counts (issue 17 measures best of three)
TARGET_CPU_RATIO = 0.7
TARGET_HELP_RATIO = 2.0  # `bsstream --help` / `python -c "import click"`
TARGET_VERSION_RATIO = 1.5  # `bsstream --version` / `python -c "import click"`


def log(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def bsstream_cmd() -> list[str]:
    script = Path(PY).parent / "bsstream"
    return [str(script)] if script.exists() else [PY, "-m", "bsstream"]


def child_env() -> dict[str, str]:
    """The environment for clients: no credentials or endpoint leaking in from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BS_")}


# ------------------------------------------------------------------------------- inputs


def ffmpeg_exe() -> str:
    """The ffmpeg bsstream itself runs (bundled, or $BSSTREAM_FFMPEG), so inputs and the
    version recorded with the results are those of the binary measured."""
    from bsstream.audio.ffmpeg import ffmpeg_exe as chosen

    return chosen()


def ffmpeg(*args: str) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


class Inputs:
    """Generated audio: real speech tiled to length. MP3 is encoded once (one tile) and then
    copied frame by frame (``-c copy``), so even the 120-minute MP3 takes a second."""

    def __init__(self, workdir: Path, speech: Path) -> None:
        self.dir = workdir / "inputs"
        self.dir.mkdir()
        self.tile48 = self.dir / "tile-48k-stereo.wav"
        ffmpeg("-i", str(speech), "-ar", "48000", "-ac", "2", "-c:a", "pcm_s16le", str(self.tile48))
        self.tile_mp3 = self.dir / "tile-48k-stereo.mp3"
        ffmpeg("-i", str(self.tile48), "-c:a", "libmp3lame", "-b:a", "128k", str(self.tile_mp3))
        self.tile16 = self.dir / "tile-16k-mono.wav"
        ffmpeg("-i", str(speech), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(self.tile16))

    def tiled(self, minutes: float, kind: str) -> Path:
        """``kind``: "wav" / "mp3" (48 kHz stereo) or "wav16" (16 kHz mono)."""
        tile = {"wav": self.tile48, "mp3": self.tile_mp3, "wav16": self.tile16}[kind]
        ext = "mp3" if kind == "mp3" else "wav"
        suffix = "-16k-mono" if kind == "wav16" else ""
        out = self.dir / f"speech-{minutes:g}min{suffix}.{ext}"
        if not out.exists():
            ffmpeg("-stream_loop", "-1", "-i", str(tile), "-t", str(minutes * 60), "-c", "copy", str(out))
        return out


# ------------------------------------------------------------------------------- server


SERVERS = {
    # the default peer for client comparisons: reads and counts, answers nothing (never the bottleneck)
    "count": "bench.count_server",
    # the real emulator (analysis, results): unpaced it holds both clients to its own speed
    "emulator": "bench.probe_server",
    # canned results (one per 2 s of audio) and each chunk's pacing lag: bench/scale.py's peer
    "script": "bench.script_server",
}


SERVER_DESCRIPTIONS = {
    "count": "`bench/count_server.py`: it reads and counts the audio and answers nothing, so the "
    "figures are the clients' own",
    "emulator": "the emulator, `bench/probe_server.py`: unpaced, both clients wait for its analysis",
    "script": "`bench/script_server.py`: it reads the audio and answers one canned result per 2 s of it",
}


class ProbeServer:
    """A benchmark server (``SERVERS``) in its own process; reads its call records."""

    def __init__(self, workdir: Path, name: str, kind: str = "count", extra: Sequence[str] = ()) -> None:
        self.kind = kind
        self.records_path = workdir / f"{name}-calls.jsonl"
        self.records_path.touch()
        self._stderr = open(workdir / f"{name}-server.err", "wb")  # noqa: SIM115 - lives with the server
        self.proc = subprocess.Popen(
            [
                PY,
                "-m",
                SERVERS[kind],
                "--records",
                str(self.records_path),
                "--cid",
                CID,
                "--api-key",
                API_KEY,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.close()
            raise RuntimeError(f"the probe server did not start (see {workdir / (name + '-server.err')})")
        self.address = line.split()[1]

    def records(self) -> list[CallRecord]:
        lines = self.records_path.read_text(encoding="utf-8").splitlines()
        return [CallRecord.from_json(line) for line in lines if line.strip()]

    def cpu_seconds(self) -> float:
        """The server process's user + system CPU so far (``/proc/PID/stat``), seconds."""
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is the state (field 3 of stat(5)): utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_new(self, before: int, timeout: float) -> CallRecord | None:
        """The first call record after the first ``before`` ones, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records()
            if len(records) > before:
                return records[before]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


# ------------------------------------------------------------------------------- one run


@dataclass
class Run:
    """One client process: what the OS and the server saw."""

    label: str
    exit_code: int
    wall: float  # spawn to reaped, seconds
    cpu: float  # user + sys of the child and its reaped children (ffmpeg), seconds
    maxrss_mib: float  # ru_maxrss: the largest of the child and its reaped children
    timed_out: bool = False
    call: CallRecord | None = None
    spawned: float = 0.0  # time.monotonic() just before the spawn
    stats: dict[str, Any] = field(default_factory=dict)  # the final `{"stats": ...}` line, if any
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def first_chunk(self) -> float | None:
        """Process start to the first audio chunk at the server, seconds."""
        if self.call is None or self.call.first_chunk is None:
            return None
        return self.call.first_chunk - self.spawned

    def failure(self) -> str:
        if self.timed_out:
            return f"killed after {RUN_TIMEOUT:.0f} s"
        why = self.stderr_tail.strip().splitlines()[-1:] or [""]
        return f"exit {self.exit_code}" + (f": {why[0][:80]}" if why[0] else "")


def measure(
    label: str,
    cmd: Sequence[str],
    workdir: Path,
    server: ProbeServer | None = None,
    *,
    timeout: float = RUN_TIMEOUT,
    stdout_path: Path | None = None,
) -> Run:
    """Spawn ``cmd``, reap it with ``os.wait4`` and collect its rusage and its server call.

    stdout goes to a file in the work directory (as cheap as /dev/null for the child), read
    afterwards only for a final ``{"stats": ...}`` line, then deleted (kept when it is the
    caller's ``stdout_path``).
    """
    slug = "".join(c if c.isalnum() else "-" for c in label)
    out_path = stdout_path or workdir / f"{slug}.out"
    err_path = workdir / f"{slug}.err"
    before = len(server.records()) if server is not None else 0
    killed = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        spawned = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=workdir, env=child_env()
        )

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.monotonic()
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(
        label=label,
        exit_code=proc.returncode,
        wall=ended - spawned,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_mib=usage.ru_maxrss * 1024 / MIB,  # Linux reports KiB
        timed_out=killed.is_set(),
        spawned=spawned,
        stats=_stats_line(_tail(out_path, 8192)),
        stderr_tail=_tail(err_path),
    )
    if stdout_path is None:
        out_path.unlink()
    if server is not None:
        run.call = server.wait_new(before, timeout=10.0 if run.ok else 2.0)
    return run


def _tail(path: Path, size: int = 2000) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - size))
        return f.read().decode("utf-8", "replace")


def _stats_line(tail: str) -> dict[str, Any]:
    for line in reversed(tail.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("stats"), dict):
            return data["stats"]
    return {}


def wall_median(cmd: Sequence[str], workdir: Path, runs: int) -> tuple[float, list[float]]:
    """Median wall time of ``runs`` runs (after one warm-up run), output discarded."""
    times = []
    for i in range(runs + 1):
        t0 = time.monotonic()
        subprocess.run(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
            env=child_env(),
            check=True,
        )
        if i:
            times.append(time.monotonic() - t0)
    return statistics.median(times), times


# ------------------------------------------------------------------------------- the benchmark


def analyze_cmd(paths: Path | list[str], server: ProbeServer, *extra: str, stats: bool = True) -> list[str]:
    """``bsstream analyze`` of one file (or several) against the probe server, JSON lines out."""
    inputs = [str(paths)] if isinstance(paths, Path) else list(paths)
    return [
        *bsstream_cmd(),
        "analyze",
        *inputs,
        "--endpoint",
        server.address,
        "--insecure",
        "--cid",
        CID,
        "--api-key",
        API_KEY,
        "--json",
        *(["--stats"] if stats else []),
        *extra,
    ]


def baseline_cmd(path: Path, server: ProbeServer) -> list[str]:
    return [PY, str(BASELINE), str(path), server.address, CID, API_KEY]


def floor_cmd(path: Path, server: ProbeServer) -> list[str]:
    return [PY, str(FLOOR), str(path), server.address, CID, API_KEY]


def best_of(runs: int, label: str, cmd: Sequence[str], workdir: Path, server: ProbeServer) -> Run:
    """The run with the least wall time of ``runs`` (a failed one, if any fails)."""
    done = [measure(label, cmd, workdir, server) for _ in range(runs)]
    failed = [r for r in done if not r.ok]
    return failed[0] if failed else min(done, key=lambda r: r.wall)


@dataclass
class InputResult:
    name: str
    minutes: float
    kind: str
    size_mib: float
    bsstream: Run
    baseline: Run
    floor: Run | None = None  # bench/floor_client.py, on the short inputs


@dataclass
class Report:
    quick: bool
    started: datetime.datetime
    machine: list[tuple[str, str]]
    inputs: list[InputResult] = field(default_factory=list)
    help_median: float | None = None
    help_runs: list[float] = field(default_factory=list)
    pass_median: float | None = None
    click_median: float | None = None
    version_median: float | None = None
    server: str = "count"
    realtime: Run | None = None
    realtime_minutes: float = REALTIME_MINUTES
    local: Run | None = None
    local_minutes: float = LOCAL_MINUTES
    jobs: dict[str, Any] | None = None
    concurrent_realtime: bool = True
    elapsed: float = 0.0

    @property
    def drift_ms(self) -> float | None:
        run = self.realtime
        if run is None or run.call is None:
            return None
        call = run.call
        audio = call.last_chunk_audio_time
        if call.first_chunk is None or call.last_chunk is None or audio is None:
            return None
        return ((call.last_chunk - call.first_chunk) - audio) * 1000.0


def machine_info() -> list[tuple[str, str]]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / MIB:.1f} GiB"
                break
    import grpc

    ffmpeg_version = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True).stdout
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
    )
    rev = commit.stdout.strip() or "unknown"
    if dirty.stdout.strip():
        rev += " (with uncommitted changes)"
    return [
        ("platform", platform.platform()),
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)"),
        ("memory", mem),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("grpcio", grpc.__version__),
        ("ffmpeg", " ".join(ffmpeg_version.split()[:3])),
        ("bsstream commit", rev),
    ]


def compile_bytecode() -> None:
    """Write the bytecode caches of bsstream (and of the baseline's ``bsstream._gen``), as
    ``pip install`` does for an installed package. An editable install under
    ``PYTHONDONTWRITEBYTECODE`` (CI sets it) has none, and every client run would then compile
    bsstream's sources first (about 50 ms here), a cost no installed copy pays."""
    subprocess.run(
        [PY, "-m", "compileall", "-q", str(REPO / "bsstream"), str(REPO / "bench")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_benchmark(args: argparse.Namespace, workdir: Path) -> Report:
    report = Report(
        quick=args.quick,
        started=datetime.datetime.now().astimezone(),
        machine=machine_info(),
        concurrent_realtime=not args.serial,
    )
    t_start = time.monotonic()
    compile_bytecode()
    log(f"workdir {workdir}; generating inputs from {args.speech.name}")
    inputs = Inputs(workdir, args.speech)
    report.realtime_minutes = QUICK_REALTIME_MINUTES if args.quick else REALTIME_MINUTES
    realtime_input = inputs.tiled(report.realtime_minutes, "wav")

    report.server = args.server
    server = ProbeServer(workdir, "main", args.server)
    rt_server = ProbeServer(workdir, "realtime", "emulator")  # drift is measured against the emulator
    rt_thread: threading.Thread | None = None
    try:

        def realtime_run() -> None:
            log(f"--realtime over {report.realtime_minutes} min of audio (takes as long)")
            report.realtime = measure(
                "realtime",
                analyze_cmd(realtime_input, rt_server, "--realtime"),
                workdir,
                rt_server,
                timeout=report.realtime_minutes * 60 + 120,
            )
            log("--realtime done")

        if not args.serial:
            # Paced at 1x it is mostly asleep (a few % of a core with its server), so it runs beside
            # the unpaced runs; its last chunk (the drift figure) normally lands after they finish.
            rt_thread = threading.Thread(target=realtime_run, name="realtime", daemon=True)
            rt_thread.start()

        for minutes in QUICK_MINUTES if args.quick else FULL_MINUTES:
            for kind in ("wav", "mp3"):
                path = inputs.tiled(minutes, kind)
                name = f"{minutes} min {kind.upper()}"
                runs = RUNS
                log(f"{name}: bsstream (best of {runs})")
                bss = best_of(runs, f"bsstream {name}", analyze_cmd(path, server), workdir, server)
                log(f"{name}: baseline")
                base = best_of(runs, f"baseline {name}", baseline_cmd(path, server), workdir, server)
                floor = None
                if minutes <= SHORT_MINUTES:
                    log(f"{name}: floor (bench/floor_client.py)")
                    floor = best_of(runs, f"floor {name}", floor_cmd(path, server), workdir, server)
                size = path.stat().st_size / MIB
                report.inputs.append(InputResult(name, minutes, kind, size, bss, base, floor))
                log(
                    f"{name}: bsstream {bss.wall:.2f} s {bss.maxrss_mib:.0f} MiB, "
                    f"baseline {base.wall:.2f} s {base.maxrss_mib:.0f} MiB"
                    + ("" if base.ok else f" ({base.failure()})")
                )
                if minutes >= 20:
                    path.unlink()  # keep disk use modest

        log("start-up: bsstream --help / --version, python -c 'import click', python -c pass")
        report.help_median, report.help_runs = wall_median([*bsstream_cmd(), "--help"], workdir, HELP_RUNS)
        report.version_median, _ = wall_median([*bsstream_cmd(), "--version"], workdir, HELP_RUNS)
        report.click_median, _ = wall_median([PY, "-c", "import click"], workdir, HELP_RUNS)
        report.pass_median, _ = wall_median([PY, "-c", "pass"], workdir, HELP_RUNS)

        report.local_minutes = QUICK_LOCAL_MINUTES if args.quick else LOCAL_MINUTES
        local_input = inputs.tiled(report.local_minutes, "wav16")
        log(f"emulator speed: {report.local_minutes} min through --local")
        report.local = measure(
            "local", [*bsstream_cmd(), "analyze", str(local_input), "--local", "--json", "--stats"], workdir
        )
        local_input.unlink()

        report.jobs = jobs_ratio(inputs, server, workdir)

        if rt_thread is None:
            realtime_run()
        else:
            rt_thread.join()
    finally:
        server.close()
        rt_server.close()
    report.elapsed = time.monotonic() - t_start
    return report


# ======================================================================================
# Issue 6: `--jobs 4` versus `--jobs 1`, as wall-time ratios (unpaced and --realtime).
# 20 inputs of 1 minute unpaced, and 20 inputs of 4 s paced (hard links to one generated
# WAV: no extra disk), one run each way against the probe server.
# ======================================================================================
JOBS_INPUTS = 20
JOBS_INPUT_MINUTES = 1
JOBS_COMPARED = (1, 4)
JOBS_PACED_SECONDS = 4.0


def _short_wav(source: Path, seconds: float, dest: Path) -> Path:
    """The first ``seconds`` of a WAV (for the paced --jobs comparison)."""
    with wave.open(str(source)) as r:
        params = r.getparams()
        frames = r.readframes(int(seconds * r.getframerate()))
    with wave.open(str(dest), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    return dest


def _jobs_runs(files: list[str], server: ProbeServer, workdir: Path, extra: list[str]) -> dict[int, Run]:
    walls: dict[int, Run] = {}
    for jobs in JOBS_COMPARED:
        log(f"--jobs {jobs} over {len(files)} inputs {' '.join(extra)}")
        cmd = analyze_cmd(files, server, "--jobs", str(jobs), *extra, stats=False)
        walls[jobs] = measure(f"jobs {jobs}", cmd, workdir)
    return walls


def _jobs_summary(walls: dict[int, Run], note: str) -> dict[str, Any]:
    lo, hi = (walls[j] for j in JOBS_COMPARED)
    ok = lo.ok and hi.ok
    return {
        "measured": True,
        "runs": {
            j: {"wall": r.wall, "cpu": r.cpu, "ok": r.ok, "failure": "" if r.ok else r.failure()}
            for j, r in walls.items()
        },
        "ratio": hi.wall / lo.wall if ok and lo.wall > 0 else None,
        "note": note,
    }


def jobs_ratio(inputs: Inputs, server: ProbeServer, workdir: Path) -> dict[str, Any]:
    """Two comparisons. Unpaced, the one local emulator process is the bottleneck on a
    2-core machine, so concurrency cannot help there; paced (--realtime, each stream taking
    its audio's duration, as against a service whose models run elsewhere) shows what
    --jobs buys a batch."""
    helptext = subprocess.run(
        [*bsstream_cmd(), "analyze", "--help"], capture_output=True, text=True, env=child_env()
    ).stdout
    if "--jobs" not in helptext:
        return {"measured": False, "note": "not measured: `bsstream analyze` has no --jobs yet (issue 6)"}
    source = inputs.tiled(JOBS_INPUT_MINUTES, "wav")
    batch = workdir / "jobs-inputs"
    batch.mkdir(exist_ok=True)
    files = []
    for i in range(JOBS_INPUTS):
        link = batch / f"call-{i:02d}.wav"
        if not link.exists():
            os.link(source, link)
        files.append(str(link))
    unpaced = _jobs_summary(
        _jobs_runs(files, server, workdir, []), f"{JOBS_INPUTS} inputs of {JOBS_INPUT_MINUTES} min, unpaced"
    )
    short = _short_wav(source, JOBS_PACED_SECONDS, batch / "short.wav")
    paced_files = []
    for i in range(JOBS_INPUTS):
        link = batch / f"short-{i:02d}.wav"
        if not link.exists():
            os.link(short, link)
        paced_files.append(str(link))
    paced = _jobs_summary(
        _jobs_runs(paced_files, server, workdir, ["--realtime"]),
        f"{JOBS_INPUTS} inputs of {JOBS_PACED_SECONDS:g} s, --realtime",
    )
    return {"measured": True, "unpaced": unpaced, "paced": paced}


# ====================================================================== end of issue-6 hook


# ------------------------------------------------------------------------------- the table


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "n/a"
    return f"{a / b:.2f}"


def verdict(ok: bool | None) -> str:
    return {True: "**pass**", False: "**FAIL**", None: "not measured"}[ok]


def targets(report: Report) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    long = [r for r in report.inputs if r.minutes == max(FULL_MINUTES)]
    rss_target = f"Peak RSS ≤ {TARGET_RSS_MIB:.0f} MiB on the 120-min inputs"
    if long:
        rss = [r.bsstream.maxrss_mib for r in long]
        measured = ", ".join(f"{r.name}: {r.bsstream.maxrss_mib:.1f} MiB" for r in long)
        ok = all(r.bsstream.ok for r in long) and max(rss) <= TARGET_RSS_MIB
        rows.append((rss_target, measured, verdict(ok)))
    else:
        rows.append((rss_target, "(--quick: no 120-min input)", verdict(None)))
    firsts = [(r.name, r.bsstream.first_chunk) for r in report.inputs]
    worst = max(firsts, key=lambda nf: float("inf") if nf[1] is None else nf[1], default=None)
    if worst is not None:
        ok = all(f is not None and f <= TARGET_FIRST_CHUNK_S for _, f in firsts)
        rows.append(
            (
                f"First chunk ≤ {TARGET_FIRST_CHUNK_S} s after process start, every length",
                f"worst {num(worst[1], 3)} s ({worst[0]})",
                verdict(ok),
            )
        )
    for r in report.inputs:
        s, b = r.bsstream, r.baseline
        both = s.ok and b.ok
        limit = TARGET_WALL_RATIO.get(int(r.minutes), 0.6)
        f = r.floor
        floor_wall = f" (floor client {ratio(f.wall, b.wall)}×)" if f is not None and f.ok and b.ok else ""
        floor_cpu = f" (floor client {ratio(f.cpu, b.cpu)}×)" if f is not None and f.ok and b.ok else ""
        rows.append(
            (
                f"Unpaced wall ≤ {limit}× baseline, {r.name}",
                f"{s.wall:.2f} s vs {b.wall:.2f} s: {ratio(s.wall, b.wall)}×{floor_wall}"
                if both
                else "a run failed",
                verdict(both and s.wall <= limit * b.wall),
            )
        )
        rows.append(
            (
                f"CPU ≤ {TARGET_CPU_RATIO}× baseline (children included), {r.name}",
                f"{s.cpu:.2f} s vs {b.cpu:.2f} s: {ratio(s.cpu, b.cpu)}×{floor_cpu}"
                if both
                else "a run failed",
                verdict(both and s.cpu <= TARGET_CPU_RATIO * b.cpu),
            )
        )
    drift = report.drift_ms
    rows.append(
        (
            f"`--realtime` drift ≤ {TARGET_DRIFT_MS:.0f} ms over {report.realtime_minutes} min",
            f"{num(drift, 1)} ms",
            verdict(None if drift is None else abs(drift) <= TARGET_DRIFT_MS),
        )
    )
    for label, value, limit in (
        ("--help", report.help_median, TARGET_HELP_RATIO),
        ("--version", report.version_median, TARGET_VERSION_RATIO),
    ):
        known = value is not None and report.click_median is not None
        rows.append(
            (
                f'`bsstream {label}` ≤ {limit}× `python -c "import click"` (medians of {HELP_RUNS})',
                f"{num(value, 3)} s vs {num(report.click_median, 3)} s: {ratio(value, report.click_median)}×",
                verdict(None if not known else value <= limit * report.click_median),  # type: ignore[operator]
            )
        )
    if report.local is not None:
        per_hour = report.local.wall * 60 / report.local_minutes
        rows.append(
            (
                f"Emulator (issue 3): 1 h unpaced through `--local` well under {TARGET_LOCAL_HOUR_S:.0f} s",
                f"{per_hour:.1f} s"
                + ("" if report.local_minutes == 60 else f" (scaled from {report.local_minutes} min)"),
                verdict(report.local.ok and per_hour < TARGET_LOCAL_HOUR_S),
            )
        )
    return rows


def render(report: Report) -> str:
    out: list[str] = []
    add = out.append
    mode = "quick (1 and 20 min only; development figures)" if report.quick else "full"
    add("# bsstream benchmark results\n")
    add(
        f"Generated by `python -m bench.run{' --quick' if report.quick else ''}` on "
        f"{report.started:%Y-%m-%d %H:%M %Z}; mode: {mode}; "
        f"the whole run took {report.elapsed / 60:.1f} min. "
        "See `bench/README.md` for what each figure means.\n"
    )
    add("| machine | |\n|---|---|")
    for key, value in report.machine:
        add(f"| {key} | {value} |")
    add("")

    add("## Targets (issues 5 and 17)\n")
    add("| target | measured | result |\n|---|---|---|")
    for target, measured, result in targets(report):
        add(f"| {target} | {measured} | {result} |")
    add("")

    add("## Each input and client\n")
    add(
        "Inputs: real speech (VoxConverse excerpt, 169 s) tiled to length, 48 kHz stereo 16-bit; "
        "the MP3s are 128 kb/s. Every client streams unpaced to the same loopback server "
        f"({SERVER_DESCRIPTIONS[report.server]}). "
        "bsstream: `bsstream analyze FILE --endpoint 127.0.0.1:PORT --insecure "
        "--cid 1 --api-key k --json --stats`; baseline: `python bench/baseline_client.py FILE "
        "127.0.0.1:PORT 1 k`; floor (1-min inputs only): `python bench/floor_client.py` with the same "
        "arguments, the least a grpc.aio client can do (see its docstring). Each figure is the best of "
        f"{RUNS} runs of that client on that input. RTF and latency are bsstream's own `--stats` figures.\n"
    )
    add(
        "| input | size MiB | client | wall s | CPU s | peak RSS MiB | first chunk s | RTF | "
        "latency p50 s | latency p95 s |"
    )
    add("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in report.inputs:
        clients = [("bsstream", r.bsstream), ("baseline", r.baseline)]
        if r.floor is not None:
            clients.append(("floor", r.floor))
        for client, run in clients:
            stats = run.stats
            if not run.ok:
                add(
                    f"| {r.name} | {r.size_mib:.0f} | {client} | failed: {run.failure()} | {run.cpu:.2f} | "
                    f"{run.maxrss_mib:.1f} | {num(run.first_chunk, 3)} | | | |"
                )
                continue
            add(
                f"| {r.name} | {r.size_mib:.0f} | {client} | {run.wall:.2f} | {run.cpu:.2f} | "
                f"{run.maxrss_mib:.1f} | {num(run.first_chunk, 3)} | "
                f"{num(stats.get('real_time_factor'), 3) if stats else ''} | "
                f"{num(stats.get('latency_p50'), 3) if stats else ''} | "
                f"{num(stats.get('latency_p95'), 3) if stats else ''} |"
            )
    add("")

    add("## Ratios bsstream / baseline (below 1: bsstream uses less)\n")
    add("| input | wall | CPU | peak RSS | first chunk |\n|---|---:|---:|---:|---:|")
    for r in report.inputs:
        b, s = r.baseline, r.bsstream
        if not (b.ok and s.ok):
            add(f"| {r.name} | n/a ({'baseline' if not b.ok else 'bsstream'} failed) | | | |")
            continue
        add(
            f"| {r.name} | {ratio(s.wall, b.wall)} | {ratio(s.cpu, b.cpu)} | "
            f"{ratio(s.maxrss_mib, b.maxrss_mib)} | {ratio(s.first_chunk, b.first_chunk)} |"
        )
    add("")

    add("## Other figures\n")
    add("| figure | value |\n|---|---|")
    add(
        f"| `bsstream --help` wall, median of {HELP_RUNS} | {num(report.help_median, 3)} s "
        f"(min {num(min(report.help_runs, default=None), 3)}, "
        f"max {num(max(report.help_runs, default=None), 3)}) |"
    )
    add(f"| `bsstream --version` wall, median of {HELP_RUNS} | {num(report.version_median, 3)} s |")
    add(f'| `python -c "import click"` wall, median of {HELP_RUNS} | {num(report.click_median, 3)} s |')
    add(f"| `python -c pass` wall, median of {HELP_RUNS} | {num(report.pass_median, 3)} s |")
    add(f"| `--help` / `python -c pass` | {ratio(report.help_median, report.pass_median)} |")
    rt = report.realtime
    if rt is not None:
        where = "beside the unpaced runs" if report.concurrent_realtime else "alone"
        stats = rt.stats
        add(
            f"| `--realtime` drift over {report.realtime_minutes} min (run {where}) | "
            f"{num(report.drift_ms, 1)} ms (last chunk starts at "
            f"{num(rt.call.last_chunk_audio_time if rt.call else None, 2)} s "
            f"of audio; {'ok' if rt.ok else rt.failure()}) |"
        )
        add(
            f"| `--realtime`: first chunk / wall / CPU / peak RSS | "
            f"{num(rt.first_chunk, 3)} s / {rt.wall:.1f} s / "
            f"{rt.cpu:.2f} s / {rt.maxrss_mib:.1f} MiB |"
        )
        add(
            f"| `--realtime` `--stats`: RTF, latency p50 / p95 | {num(stats.get('real_time_factor'), 3)}, "
            f"{num(stats.get('latency_p50'), 3)} s / {num(stats.get('latency_p95'), 3)} s |"
        )
    lc = report.local
    if lc is not None:
        stats = lc.stats
        add(
            f"| Emulator speed: {report.local_minutes} min of 16 kHz mono speech, unpaced, `bsstream analyze "
            f"--local` | {lc.wall:.1f} s wall, {lc.cpu:.1f} s CPU, {lc.maxrss_mib:.0f} MiB "
            f"({'ok' if lc.ok else lc.failure()}; `--stats` RTF {num(stats.get('real_time_factor'), 3)}) |"
        )
    jobs = report.jobs or {}
    if jobs.get("measured"):
        for kind in ("paced", "unpaced"):
            part = jobs[kind]
            detail = ", ".join(
                f"--jobs {j}: {v['wall']:.2f} s" + ("" if v["ok"] else f" ({v['failure']})")
                for j, v in part["runs"].items()
            )
            add(f"| `--jobs 4` / `--jobs 1` wall ({part['note']}) | {num(part.get('ratio'), 2)} ({detail}) |")
    else:
        add(f"| `--jobs 4` / `--jobs 1` wall (issue 6) | {jobs.get('note', 'not measured')} |")
    add("")
    return "\n".join(out)


# ------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="The bsstream benchmark.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 and 20 min only, 2 min of --realtime, 10 min of --local (development)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the markdown table here (default: bench/results.md; with --quick: stdout only)",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="run the --realtime measurement alone at the end instead of beside the rest",
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="count",
        help="the peer of the client comparisons: count (bytes only, default) or emulator",
    )
    parser.add_argument("--speech", type=Path, default=DEFAULT_SPEECH, help="speech to tile into the inputs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (inputs, outputs)")
    args = parser.parse_args(argv)
    if not args.speech.is_file():
        parser.error(f"speech file not found: {args.speech}")
    out: Path | None = (
        args.out if args.out is not None else (None if args.quick else REPO / "bench" / "results.md")
    )

    workdir = Path(tempfile.mkdtemp(prefix="bsbench-"))
    try:
        report = run_benchmark(args, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(report)
    _write(sys.stdout, text)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        log(f"wrote {out}")
    return 0


def _write(stream: IO[str], text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
