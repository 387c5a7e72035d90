"""The library's two faces (bsstream.stream and bsstream.aio.stream) and the CLI on one engine:
the same wire and the same results, every kind of source, early close, reconnect, auth failure."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

import bsstream
import bsstream.aio
from bsstream._gen import api_pb2
from bsstream.app import RunConfig, Streams, run_streams
from bsstream.protocol.results import ResultMessage, message_from_dict
from bsstream.settings import Credentials, parse_endpoint
from tests.fake_server import CID, KEY, FakeServer, scripted
from tests.tcp_proxy import Fault, FaultProxy

JFK = "01_jfk_16k_mono_s16.wav"
CHUNK = 8000  # bytes in 250 ms: the default chunk


def _connection(address: str) -> bsstream.Connection:
    return bsstream.Connection(address, KEY, CID, insecure=True)


def _pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def _wire(server: FakeServer) -> list[list[bytes]]:
    """Every call's requests as the server received them, serialised."""
    return [[m.SerializeToString() for m in call.messages] for call in server.servicer.calls]


def _key(messages: list[ResultMessage]) -> list[tuple[object, ...]]:
    """What the results say (not which face carried them: source and method tags differ)."""
    return [(m.cid, m.pid, m.message_id, m.results) for m in messages]


def _via_sync(address: str, source: object, options: bsstream.Options | None = None) -> list[ResultMessage]:
    method = bsstream.Method.ANALYZE
    return list(bsstream.stream(source, method, options, _connection(address)))  # type: ignore[arg-type]


def _via_aio(address: str, source: object, options: bsstream.Options | None = None) -> list[ResultMessage]:
    async def main() -> list[ResultMessage]:
        results = bsstream.aio.stream(source, options=options, connection=_connection(address))  # type: ignore[arg-type]
        return [m async for m in results]

    return asyncio.run(main())


def _via_cli(address: str, path: str, options: bsstream.Options | None = None) -> list[ResultMessage]:
    opts = options or bsstream.Options()
    out, err = io.StringIO(), io.StringIO()
    config = RunConfig(
        method="StreamAudio",
        inputs=[path],
        credentials=Credentials(CID, KEY),
        endpoint=parse_endpoint(address),
        insecure=True,
        json=True,
        stream=opts,
    )
    rc = run_streams(config, Streams(stdin=io.BytesIO(), stdout=out, stderr=err))
    assert rc == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return [message_from_dict(x) for x in lines if "result" in x]


@pytest.mark.parametrize(
    "options",
    [bsstream.Options(), bsstream.Options(level="segment", chunk_ms=100, embeddings=True)],
    ids=["defaults", "segment-100ms-embeddings"],
)
def test_sync_aio_and_cli_put_the_same_bytes_on_the_wire_and_get_the_same_results(
    testdata: Path, options: bsstream.Options
) -> None:
    path = str(testdata / JFK)
    seen: dict[str, tuple[list[list[bytes]], list[tuple[object, ...]]]] = {}
    for face, run in (("sync", _via_sync), ("aio", _via_aio), ("cli", _via_cli)):
        with FakeServer() as server:
            messages = run(server.address, path, options)
            (call,) = server.servicer.calls
            assert call.violations == [] and call.half_closed
            seen[face] = (_wire(server), _key(messages))
    wire, results = seen["cli"]
    chunk = options.chunk_ms * 32
    assert len(wire[0]) == 1 + -(-len(_pcm(testdata / JFK)) // chunk)  # config, then every chunk
    assert api_pb2.AudioStream.FromString(wire[0][0]).config == options.config()
    assert len(results) >= 5 and any(r for _, _, _, r in results)
    assert seen["sync"] == seen["cli"]
    assert seen["aio"] == seen["cli"]


def test_every_kind_of_source_sends_the_same_audio(testdata: Path) -> None:
    path = testdata / JFK
    pcm = _pcm(path)

    async def async_chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(pcm), 3001 * 2):  # odd-sized blocks: regrouped into exact chunks
            yield pcm[i : i + 3001 * 2]
            await asyncio.sleep(0)

    def sync_chunks() -> Iterator[bytes]:
        for i in range(0, len(pcm), 5000):
            yield pcm[i : i + 5000]

    names_by_kind = {"bytes": "<bytes>", "pcm": "<pcm>", "async pcm": "<pcm>"}
    with path.open("rb") as f:
        sources = {
            "path": (str(path), _via_sync),
            "pathlike": (path, _via_aio),
            "bytes": (path.read_bytes(), _via_sync),
            "file": (f, _via_sync),
            "pcm": (sync_chunks(), _via_sync),
            "async pcm": (async_chunks(), _via_aio),
        }
        for kind, (source, run) in sources.items():
            with FakeServer() as server:
                messages = run(server.address, source)
                (call,) = server.servicer.calls
            assert call.violations == [], kind
            assert b"".join(call.chunks) == pcm, kind
            assert [len(c) for c in call.chunks[:-1]] == [CHUNK] * (len(call.chunks) - 1), kind
            assert messages and all(m.method == "StreamAudio" for m in messages), kind
            names = {m.source for m in messages}
            assert names == {names_by_kind.get(kind, str(path))}, kind


class _Endless:
    """A live capture that never ends (0.25 s of silence per chunk); counts what was pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.pulled += 1
            yield bytes(CHUNK)


def _answering_server() -> tuple[FakeServer, threading.Event]:
    """A server answering every chunk; ``ended`` is set when a call ends (the client never
    half-closes an endless source, so an end is the client's cancellation)."""
    ended = threading.Event()

    def handler(
        requests: Iterator[api_pb2.AudioStream], context: grpc.ServicerContext
    ) -> Iterator[api_pb2.StreamResult]:
        context.add_callback(ended.set)
        for i, _ in enumerate(requests):
            yield api_pb2.StreamResult(cid=CID, message_id=i)

    return FakeServer(scripted(handler)), ended


def test_closing_the_sync_iterator_early_cancels_the_call() -> None:
    server, ended = _answering_server()
    source = _Endless()
    with server:
        results = bsstream.analyze(source, connection=_connection(server.address))
        first = next(results)
        results.close()  # type: ignore[attr-defined]
        assert ended.wait(5), "the server never saw the call end"
        pulled = source.pulled
        time.sleep(0.2)
    assert first.message_id == 0
    assert source.pulled == pulled  # nothing reads the capture any more


def test_closing_the_async_iterator_early_cancels_the_call() -> None:
    server, ended = _answering_server()

    async def main(address: str) -> int:
        async def live() -> AsyncIterator[bytes]:
            while True:
                yield bytes(CHUNK)
                await asyncio.sleep(0)

        results = bsstream.aio.analyze(live(), connection=_connection(address))
        first = await results.__anext__()
        await results.aclose()
        return first.message_id

    with server:
        assert asyncio.run(main(server.address)) == 0
        assert ended.wait(5), "the server never saw the call end"


def test_aio_reconnects_and_resumes_through_a_cut_link(
    testdata: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with bsstream.Emulator() as emulator:
        connection = bsstream.Connection.emulator(emulator.address)
        options = bsstream.Options(level="segment", backoff_base=0.01)
        path = str(testdata / JFK)

        async def run(address: str) -> list[ResultMessage]:
            conn = bsstream.Connection.emulator(address)
            return [m async for m in bsstream.aio.analyze(path, options=options, connection=conn)]

        clean = asyncio.run(run(emulator.address))
        with FaultProxy(emulator.address, [Fault(150_000, "cut", drain=0.2)]) as proxy:
            resumed = asyncio.run(run(proxy.address))
        assert proxy.faults_fired
    assert connection.insecure
    reconnects = [r.getMessage() for r in caplog.records if r.name == "bsstream"]
    assert len(reconnects) == 1 and "reconnecting in" in reconnects[0]  # logged, not printed

    def windows(messages: list[ResultMessage]) -> list[tuple[str, str]]:
        return sorted((r.task, r.start_time) for m in messages for r in m.results)

    assert windows(resumed) and len(windows(resumed)) == len(windows(clean))  # nothing lost or repeated


@pytest.mark.parametrize("face", ["sync", "aio"])
def test_a_wrong_key_raises_an_auth_error_with_its_exit_status(testdata: Path, face: str) -> None:
    with bsstream.Emulator(cid=7, api_key="right") as emulator:
        address = emulator.address
        wrong = bsstream.Connection.emulator(address, cid=7, api_key="wrong")
        path = str(testdata / JFK)
        with pytest.raises(bsstream.AuthError) as caught:
            if face == "sync":
                list(bsstream.analyze(path, connection=wrong))
            else:

                async def main() -> None:
                    async for _ in bsstream.aio.analyze(path, connection=wrong):
                        pass

                asyncio.run(main())
    assert caught.value.status == bsstream.ExitStatus.AUTH == 3
    assert "wrong" not in str(caught.value)


def test_bad_arguments_are_usage_errors_before_anything_streams() -> None:
    connection = bsstream.Connection("localhost:1", "k", 1, insecure=True)
    with pytest.raises(bsstream.UsageError):
        bsstream.Options(chunk_ms=50)
    with pytest.raises(bsstream.UsageError):
        bsstream.stream(b"", "transcribe", connection=connection)
    with pytest.raises(bsstream.UsageError):
        bsstream.stream(b"", connection=bsstream.Connection("no-port", "k", 1))
    with pytest.raises(bsstream.InputError):
        list(bsstream.analyze(b"", connection=connection))
    assert "k'" not in repr(connection) and "api_key" not in repr(connection)


def test_import_bsstream_is_light() -> None:
    import subprocess
    import sys

    code = "import bsstream, sys; bsstream.Method; bsstream.Options(); print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "grpc" not in out and "'bsstream.engine.options'" in out
