"""The engine's gRPC: a grpc.aio channel per endpoint (shared by the streams of one event
loop), one bidi call per attempt, and the channel's readiness.

gRPC errors leave this module as :class:`bsstream.transport.CallFailed` (status code name,
details, trailing metadata), never as grpc types.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import grpc
import grpc.aio

from bsstream._gen import api_pb2_grpc
from bsstream.engine.options import Method
from bsstream.settings import Endpoint
from bsstream.status import BsError
from bsstream.transport import CHANNEL_OPTIONS, EMULATOR_METADATA_KEY, CallFailed, text_metadata

T = TypeVar("T")
BidiCall = grpc.aio.StreamStreamCall  # [api_pb2.AudioStream, api_pb2.StreamResult]
READY_POLL = 0.2
CORE_PLACEHOLDER = "Internal error from Core"  # grpc.aio's status for a failed write (grpc/grpc#36066)
SETTLE_WAIT = 1.0  # s: how long a call's real status may follow that placeholder
SETTLE_POLL = 0.01  # s: how often a wait for the channel looks at the stop request


class Checks(Protocol):
    """The connection checks a stream runs when a call fails before anything answered
    (:class:`bsstream.transport.Transport` has them; so has :class:`EndpointChecks`). Blocking:
    the engine runs them in a worker thread."""

    def diagnose(self, timeout: float) -> BsError | None: ...

    def failure_hint(self, timeout: float) -> str | None: ...

    def examine(self, timeout: float) -> tuple[BsError | None, str | None]: ...


@dataclass(frozen=True, slots=True)
class Target:
    """Where a channel goes: one channel per target and event loop."""

    endpoint: Endpoint
    insecure: bool = False
    ca_cert: bytes | None = field(default=None, repr=False)


class EndpointChecks:
    """The connection checks of bsstream.diagnose for one target."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def diagnose(self, timeout: float) -> BsError | None:
        from bsstream.diagnose import diagnose

        t = self.target
        return diagnose(t.endpoint, insecure=t.insecure, ca_cert=t.ca_cert, timeout=timeout)

    def failure_hint(self, timeout: float) -> str | None:
        from bsstream.diagnose import hint

        t = self.target
        return hint(t.endpoint, insecure=t.insecure, ca_cert=t.ca_cert, timeout=timeout)

    def examine(self, timeout: float) -> tuple[BsError | None, str | None]:
        from bsstream.diagnose import examine

        t = self.target
        return examine(t.endpoint, insecure=t.insecure, ca_cert=t.ca_cert, timeout=timeout)


def open_channel(target: Target) -> grpc.aio.Channel:
    """A grpc.aio channel (TLS, private CA, or plaintext) with the transport's options."""
    address = target.endpoint.target
    if target.insecure:
        return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
    credentials = grpc.ssl_channel_credentials(root_certificates=target.ca_cert)
    return grpc.aio.secure_channel(address, credentials, options=CHANNEL_OPTIONS)


class Link:
    """A channel, its stub and the checks of its target: what a stream needs of the network."""

    def __init__(self, channel: grpc.aio.Channel, checks: Checks) -> None:
        self.channel = channel
        self.checks = checks
        self.stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)

    def start(self, method: Method, *, wait_for_ready: bool) -> BidiCall:
        """Start a call of ``method``; requests are written to it (``write``/``done_writing``).

        ``wait_for_ready``: wait for the channel to connect instead of failing at once while
        it is in its reconnect backoff (reconnects; a first call fails fast)."""
        if method is Method.DEEPFAKE:
            call: BidiCall = self.stub.DeepfakeDetection(wait_for_ready=wait_for_ready)
        else:
            call = self.stub.StreamAudio(wait_for_ready=wait_for_ready)
        return call

    async def wait_ready(self, timeout: float, stopping: StopFlag) -> bool | None:
        """Wait up to ``timeout`` s for the channel to connect (it keeps trying meanwhile, with
        its own backoff). True: connected; False: it did not; None: ``stopping`` came first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        state = self.channel.get_state(try_to_connect=True)
        while state is not grpc.ChannelConnectivity.READY:
            if stopping.stopping:
                return None
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.channel.wait_for_state_change(state), min(left, READY_POLL))
            state = self.channel.get_state(try_to_connect=True)
        return True

    async def diagnose(self, timeout: float) -> BsError | None:
        return await asyncio.to_thread(self.checks.diagnose, timeout)

    async def failure_hint(self, timeout: float) -> str | None:
        return await asyncio.to_thread(self.checks.failure_hint, timeout)

    async def examine(self, timeout: float) -> tuple[BsError | None, str | None]:
        return await asyncio.to_thread(self.checks.examine, timeout)


class StopFlag(Protocol):
    @property
    def stopping(self) -> bool: ...


def call_failed(err: grpc.aio.AioRpcError) -> CallFailed:
    """The CallFailed for a call's non-OK status."""
    try:
        trailers = text_metadata(err.trailing_metadata())
    except Exception:  # metadata is optional garnish: never let it hide the status
        trailers = ()
    return CallFailed(err.code().name, err.details() or "", trailers)


def _settled(awaitable: Awaitable[T]) -> T:
    """The value of an awaitable that is already settled (a finished call's status)."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as stop:
        value: T = stop.value
        return value
    raise RuntimeError("not settled")


class FirstStatus:
    """The status a call ended with, as first set. When a write fails as the server ends the
    call, grpc.aio replaces the server's status with "INTERNAL: Internal error from Core"
    (grpc/grpc#36066); a done-callback sees the server's status before that."""

    def __init__(self, call: BidiCall) -> None:
        self.failure: CallFailed | None = None
        self.ok = False  # the server closed the call with OK (before any write failed)
        self._seen = False
        call.add_done_callback(self._done)

    def _done(self, call: grpc.aio.Call) -> None:
        if self._seen:
            return
        self._seen = True
        try:
            code = _settled(call.code())
            if code is grpc.StatusCode.OK:
                self.ok = True
                return
            details = _settled(call.details())
            trailers = text_metadata(_settled(call.trailing_metadata()))
        except Exception:  # then the error the read raises is all there is
            return
        self.failure = CallFailed(code.name, details or "", trailers)

    async def of(self, call: BidiCall, err: grpc.aio.AioRpcError) -> CallFailed | None:
        """How the call failed: its first status unless that is the placeholder a failed write
        sets before the real status arrives (then the real one, waited for a moment). None:
        the server had closed the call with OK."""
        if self.ok:
            return None
        failure = self.failure if self.failure is not None else call_failed(err)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_WAIT
        while _placeholder(failure) and loop.time() < deadline:
            await asyncio.sleep(SETTLE_POLL)
            failure = CallFailed(
                (await call.code()).name,
                await call.details() or "",
                text_metadata(await call.trailing_metadata()),
            )
        if _placeholder(failure):
            # the connection closed under a write and no status came: the link went away
            details = "the connection closed while audio was being sent"
            return CallFailed("UNAVAILABLE", details, failure.trailers)
        return failure


def _placeholder(failure: CallFailed) -> bool:
    return failure.code == "INTERNAL" and failure.details == CORE_PLACEHOLDER


async def is_emulated(call: BidiCall) -> bool:
    """True when the server said it is the local emulator (initial metadata)."""
    try:
        metadata = await call.initial_metadata()
    except (grpc.aio.AioRpcError, asyncio.CancelledError):
        return False
    return any(key == EMULATOR_METADATA_KEY for key, _ in metadata or ())


_Held = tuple[grpc.aio.Channel, int]  # a channel and how many streams use it


class Channels:
    """One channel per target on each event loop, shared by the streams running there and
    closed when the last of them ends."""

    def __init__(self) -> None:
        self._open: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Target, _Held]]
        self._open = weakref.WeakKeyDictionary()

    def acquire(self, target: Target) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        here = self._open.setdefault(loop, {})
        channel, users = here.get(target, (None, 0))
        if channel is None:
            channel = open_channel(target)
        here[target] = (channel, users + 1)
        return channel

    async def release(self, target: Target) -> None:
        here = self._open.get(asyncio.get_running_loop(), {})
        channel, users = here.get(target, (None, 0))
        if channel is None:
            return
        if users > 1:
            here[target] = (channel, users - 1)
            return
        del here[target]
        await channel.close(None)


CHANNELS = Channels()

__all__ = [
    "CHANNELS",
    "BidiCall",
    "CallFailed",
    "Checks",
    "EndpointChecks",
    "FirstStatus",
    "Link",
    "Target",
    "call_failed",
    "is_emulated",
    "open_channel",
]
