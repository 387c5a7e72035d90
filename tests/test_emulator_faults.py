"""Fault injection and TLS, each against a fresh in-process emulator."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import grpc
import pytest

from bsstream._gen import api_pb2_grpc
from bsstream.emulator import Emulator, EmulatorError, Faults
from tests.test_emulator_support import call, config, load_wav, stream


@pytest.fixture(scope="module")
def jfk(testdata: Path) -> bytes:
    return load_wav(testdata / "01_jfk_16k_mono_s16.wav")[0]


@pytest.mark.parametrize("code", ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "internal"])
def test_abort_after(jfk: bytes, code: str) -> None:
    with Emulator(faults=Faults(abort_after=3, abort_code=code)) as emu:
        out = call(emu.address, stream(jfk))
        assert out.code == grpc.StatusCode[code.upper()]
        assert "abort_after" in out.details
        log = emu.wait_for_calls(1)[0]
        assert log.audio_messages == 3 and log.code == code.upper()


def test_abort_after_zero_aborts_after_the_config(jfk: bytes) -> None:
    with Emulator(faults=Faults(abort_after=0)) as emu:
        out = call(emu.address, stream(jfk))
        assert out.code == grpc.StatusCode.UNAVAILABLE
        assert emu.wait_for_calls(1)[0].audio_messages == 0


def test_bad_fault_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        Faults(abort_code="NOPE")
    with pytest.raises(ValueError):
        Faults(abort_code="OK")
    with pytest.raises(ValueError):
        Faults(delay_ms=-1)


def test_delay_ms(jfk: bytes) -> None:
    with Emulator() as emu:
        t0 = time.monotonic()
        fast = call(emu.address, stream(jfk))
        fast_time = time.monotonic() - t0
    with Emulator(faults=Faults(delay_ms=150)) as emu:
        t0 = time.monotonic()
        slow = call(emu.address, stream(jfk))
        slow_time = time.monotonic() - t0
    assert len(slow.responses) == len(fast.responses) >= 4
    assert slow_time >= 0.15 * len(slow.responses) > fast_time


def test_hang_after_until_the_deadline(jfk: bytes) -> None:
    with Emulator(faults=Faults(hang_after=2)) as emu:
        t0 = time.monotonic()
        out = call(emu.address, stream(jfk), timeout=1.0)
        assert out.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 >= 0.9
        log = emu.wait_for_calls(1, timeout=5)[0]
        assert log.audio_messages == 2 and log.code == "CANCELLED"


def test_hang_releases_on_client_cancel(jfk: bytes) -> None:
    with Emulator(faults=Faults(hang_after=1)) as emu, grpc.insecure_channel(emu.address) as channel:
        rpc = api_pb2_grpc.BehavioralStreamingApiStub(channel).StreamAudio(stream(jfk))
        time.sleep(0.3)
        rpc.cancel()
        assert emu.wait_for_calls(1, timeout=5)[0].code == "CANCELLED"


def test_refuse_first(jfk: bytes) -> None:
    with Emulator(faults=Faults(refuse_first=2)) as emu:
        codes = [call(emu.address, stream(jfk[:64000])).code for _ in range(3)]
        assert codes == [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK]
        assert call(emu.address, [config()]).code == grpc.StatusCode.OK  # and so are later calls
        assert [c.code for c in emu.wait_for_calls(4)] == ["UNAVAILABLE", "UNAVAILABLE", "OK", "OK"]


def test_refused_calls_still_say_emulator(jfk: bytes) -> None:
    with Emulator(faults=Faults(refuse_first=1)) as emu:
        out = call(emu.address, stream(jfk))
        assert out.code == grpc.StatusCode.UNAVAILABLE and "refuse" in out.details
        assert out.metadata.get("bsstream-emulator") == "1"


def test_close_early_after(jfk: bytes) -> None:
    with Emulator(faults=Faults(close_early_after=4)) as emu:
        out = call(emu.address, stream(jfk))
        assert out.code == grpc.StatusCode.OK
        assert out.responses == []  # 1 s of audio: no segment yet, and no flush at the end
        log = emu.wait_for_calls(1)[0]
        assert log.audio_messages == 4 and log.code == "OK"


def test_close_early_keeps_results_sent_so_far(jfk: bytes) -> None:
    with Emulator(faults=Faults(close_early_after=26)) as emu:  # 6.5 s: inside an utterance
        early = call(emu.address, stream(jfk, level="utterance"))
    with Emulator() as emu:
        full = call(emu.address, stream(jfk[: 8000 * 26], level="utterance"))
    assert early.code == grpc.StatusCode.OK
    # the full 6.5 s call flushes the open utterance at the end; the early close does not
    assert len(early.responses) < len(full.responses)


def test_concurrent_calls(jfk: bytes) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with Emulator() as emu, ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: call(emu.address, stream(jfk)), range(8)))
    assert all(o.code == grpc.StatusCode.OK for o in outs)
    assert len({o.responses[0].pid for o in outs}) == 8
    assert len({tuple(map(str, o.responses)) for o in outs}) == 8  # pids differ, so messages do


def test_port_in_use() -> None:
    with Emulator() as emu:
        with pytest.raises(EmulatorError) as info:
            Emulator(port=emu.port).start()
        assert info.value.kind == "address"


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def cert_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return (d / "cert.pem").read_bytes(), (d / "key.pem").read_bytes()


def test_tls(cert_pair: tuple[bytes, bytes], jfk: bytes) -> None:
    cert, key = cert_pair
    with Emulator(tls_cert=cert, tls_key=key) as emu:
        assert emu.tls
        creds = grpc.ssl_channel_credentials(root_certificates=cert)
        out = call(emu.address, stream(jfk), credentials=creds)
        assert out.code == grpc.StatusCode.OK and out.results
        plain = call(emu.address, [config()], timeout=5)
        assert plain.code == grpc.StatusCode.UNAVAILABLE


def test_tls_with_a_mismatched_key(cert_pair: tuple[bytes, bytes]) -> None:
    cert, _ = cert_pair
    with pytest.raises(EmulatorError) as info:
        Emulator(
            tls_cert=cert, tls_key=b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        ).start()
    assert info.value.kind == "tls"
