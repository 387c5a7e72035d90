"""Capture devices (--mic, mic:, bsstream devices) without a sound server: the live capture
path is exercised with ffmpeg's lavfi source, and a missing device must give one clear line and
exit 4. Real capture from a PulseAudio server the test starts itself: tests/test_mic_pulse.py."""

from __future__ import annotations

import json

import pytest

from bsstream.audio.device import Device, default_backend, parse_device
from tests.clirun import bsstream

JFK = "01_jfk_16k_mono_s16.wav"


def test_device_specs():
    backend = default_backend()
    assert parse_device("mic:") == Device(backend, "")
    assert parse_device("mic:default") == Device(backend, "")
    assert parse_device("mic:alsa:hw:1,0") == Device("alsa", "hw:1,0")
    assert parse_device("mic:pulse:alsa_input.usb") == Device("pulse", "alsa_input.usb")
    assert parse_device("mic:USB Mic") == Device(backend, "USB Mic")
    assert Device("avfoundation", "1").ffmpeg_input() == (["-f", "avfoundation"], ":1")
    assert Device("dshow", "Mic (USB)").ffmpeg_input() == (["-f", "dshow"], "audio=Mic (USB)")
    assert Device("pulse", "").ffmpeg_input() == (["-f", "pulse"], "default")


def test_a_missing_device_is_one_line_and_exit_4():
    r = bsstream("analyze", "--local", "--mic", "no-such-device-xyz")
    assert r.code == 4, r.err
    errors = [x for x in r.err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: mic:")
    assert "Traceback" not in r.err


def test_the_alsa_backend_missing_from_the_bundled_ffmpeg_is_said(monkeypatch):
    monkeypatch.delenv("BSSTREAM_FFMPEG", raising=False)
    r = bsstream("analyze", "--local", "mic:alsa:hw:0")
    assert r.code == 4
    assert "no alsa capture input" in r.err or "cannot open the capture device" in r.err


def test_devices_lists_or_says_why_not():
    r = bsstream("devices")
    if r.code == 0:
        assert r.out.startswith(("* mic:", "  mic:"))
    else:
        assert r.code == 4 and r.err.startswith("error: no capture devices found")


def test_no_input_and_no_mic_is_a_usage_error():
    r = bsstream("analyze", "--local")
    assert r.code == 2 and "INPUT" in r.err and "--mic" in r.err


def test_duration_must_be_positive():
    r = bsstream("analyze", "--local", "--mic", "--duration", "0")
    assert r.code == 2


def test_a_live_capture_streams_until_duration(testdata):
    """ffmpeg's lavfi device reading a recording stands in for a microphone: the same live
    device path (ffmpeg -f DEVICE, no file, --duration)."""
    source = f"mic:lavfi:amovie={testdata / JFK}"
    r = bsstream("analyze", "--local", "--json", "--duration", "4", source)
    assert r.code == 0, r.err
    lines = [json.loads(x) for x in r.out.splitlines()]
    assert lines[0]["source"] == source
    end = lines[-1]["end"]
    assert end["audio_seconds"] == pytest.approx(4.0, abs=0.05) and end["results"] > 0


def test_a_bad_lavfi_source_is_exit_4():
    r = bsstream("analyze", "--local", "mic:lavfi:not_a_filter_xyz")
    assert r.code == 4 and "not a valid lavfi source" in r.err
