"""Capture devices (a microphone, a line in, a PulseAudio monitor) through ffmpeg's device inputs.

An input ``mic:`` is the platform's default capture device; ``mic:NAME`` a named one;
``mic:BACKEND:NAME`` names the backend too (``mic:alsa:hw:1``, ``mic:pulse:alsa_input.usb``).
``--mic [DEVICE]`` is the same as the input ``mic:DEVICE``.

=========  ===============  =====================================================
platform   default backend  others
=========  ===============  =====================================================
Linux      pulse            alsa (only if the ffmpeg has it: the bundled one does not)
macOS      avfoundation     device NAME as ffmpeg's ``:INDEX`` or ``:NAME`` form
Windows    dshow            NAME is ``audio=Microphone (...)``'s device name
any        lavfi            a synthetic source (``mic:lavfi:sine=frequency=440``)
=========  ===============  =====================================================

Capture is live: it runs until Ctrl-C (or ``--duration`` seconds) and then ends cleanly. When
ffmpeg cannot open the device, *why* is decided from facts (no PulseAudio server socket, the
name is not among the sources ffmpeg lists, the backend missing from this ffmpeg), never from
ffmpeg's wording; each is one line and exit code 4.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from bsstream.status import InputError, UsageError

__all__ = ["Device", "is_device", "list_devices", "parse_device"]

PREFIX = "mic:"
BACKENDS = ("pulse", "alsa", "avfoundation", "dshow", "lavfi")
LIST_TIMEOUT = 10.0
# "* NAME [DESCRIPTION]", and since ffmpeg 7 a media type after it: "... [DESCRIPTION] (none)"
_SOURCE_LINE = re.compile(r"^\s*(\*?)\s*(\S+)\s*(?:\[(.*)\])?\s*(?:\([^()]*\))?\s*$")


def is_device(spec: str) -> bool:
    return spec.startswith(PREFIX)


def default_backend() -> str:
    if sys.platform == "darwin":
        return "avfoundation"
    if sys.platform.startswith("win"):
        return "dshow"
    return "pulse"


@dataclass(frozen=True, slots=True)
class Device:
    backend: str
    name: str  # "" for the default device

    @property
    def display(self) -> str:
        return f"mic:{self.backend}:{self.name or 'default'}"

    def ffmpeg_input(self) -> tuple[list[str], str]:
        """(options before -i, the -i argument)."""
        name = self.name
        if self.backend == "avfoundation":
            target = name if name.startswith(":") else f":{name or 'default'}"
        elif self.backend == "dshow":
            target = name if name.startswith("audio=") else f"audio={name or 'default'}"
        else:
            target = name or "default"
        return ["-f", self.backend], target


def parse_device(spec: str) -> Device:
    """``mic:``, ``mic:NAME`` or ``mic:BACKEND:NAME`` -> Device. UsageError for an unknown backend
    given as ``BACKEND:`` only when it is one of ours misspelt is impossible to tell, so a first
    part that is not a backend is part of the name."""
    rest = spec[len(PREFIX) :] if is_device(spec) else spec
    backend, _, name = rest.partition(":")
    if backend in BACKENDS:
        return Device(backend, name)
    if not rest or rest == "default":
        return Device(default_backend(), "")
    return Device(default_backend(), rest)


def pulse_server_reachable() -> bool | None:
    """Whether a PulseAudio (or PipeWire-pulse) server socket exists; None if we cannot tell
    (a remote PULSE_SERVER)."""
    server = os.environ.get("PULSE_SERVER", "")
    if server:
        path = server[len("unix:") :] if server.startswith("unix:") else server
        return os.path.exists(path) if path.startswith("/") else None
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid() if hasattr(os, 'getuid') else 0}"
    return os.path.exists(os.path.join(runtime, "pulse", "native"))


def _exe() -> str:
    from bsstream.audio.ffmpeg import FfmpegStartError, ffmpeg_exe

    try:
        return ffmpeg_exe()
    except FfmpegStartError as exc:
        raise InputError(f"cannot run ffmpeg ({exc})", hint=exc.hint) from None


def backend_available(backend: str, exe: str | None = None) -> bool:
    """Whether this ffmpeg has the device input (its exit status on ``-h demuxer=NAME`` is not a
    fact we can use: it exits 0 either way; so the demuxer list is read)."""
    try:
        done = subprocess.run(
            [exe or _exe(), "-hide_banner", "-devices"],
            capture_output=True,
            timeout=LIST_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith("D") and backend in fields[1].split(","):
            return True
    return False


def list_devices(backend: str | None = None) -> tuple[str, list[tuple[str, str, bool]]]:
    """(backend, [(name, description, is_default)]) as ``ffmpeg -sources BACKEND`` lists them.
    An empty list when ffmpeg cannot list them (no server, no such backend)."""
    backend = backend or default_backend()
    try:
        done = subprocess.run(
            [_exe(), "-hide_banner", "-sources", backend],
            capture_output=True,
            timeout=LIST_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return backend, []
    if done.returncode != 0:
        return backend, []
    found = []
    for line in done.stdout.decode("utf-8", "replace").splitlines()[1:]:
        m = _SOURCE_LINE.match(line)
        if m:
            found.append((m.group(2), (m.group(3) or "").strip(), m.group(1) == "*"))
    return backend, found


def explain_open_failure(device: Device) -> InputError:
    """Why a capture device did not open, from facts (see the module docstring)."""
    shown = device.display
    hint = "run 'bsstream devices' to see what can be captured"
    if device.backend not in ("lavfi",) and not backend_available(device.backend):
        return InputError(
            f"{shown}: this ffmpeg has no {device.backend} capture input",
            hint="set BSSTREAM_FFMPEG to an ffmpeg built with it, or use another backend",
        )
    if device.backend == "pulse" and pulse_server_reachable() is False:
        return InputError(f"{shown}: no PulseAudio server is running", hint="start PulseAudio or PipeWire")
    if device.backend in ("pulse", "alsa") and device.name:
        _, sources = list_devices(device.backend)
        if sources and device.name not in {name for name, _, _ in sources}:
            return InputError(f"{shown}: no capture device of that name", hint=hint)
    if device.backend == "lavfi":
        return InputError(f"{shown}: not a valid lavfi source", hint="e.g. mic:lavfi:sine=frequency=440")
    return InputError(
        f"{shown}: cannot open the capture device (missing, busy, or permission denied)", hint=hint
    )


def check_duration(duration: float | None) -> None:
    if duration is not None and duration <= 0:
        raise UsageError("--duration must be more than 0 seconds")
