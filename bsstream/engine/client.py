"""One library stream on the engine: a Connection's channel, the engine, the events logged.

Shared by the sync face (:mod:`bsstream.api`, on the background loop) and the asyncio face
(:mod:`bsstream.aio`, on the caller's loop).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bsstream.engine.core import AudioInput, Item, StreamEnd, StreamEngine
from bsstream.engine.options import Connection, Method, Options, StreamOptions
from bsstream.engine.wire import CHANNELS, EndpointChecks, Link, Target
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import Reconnect, UtteranceLost

log = logging.getLogger("bsstream")


def resolve(
    method: Method | str, options: Options | None, connection: Connection | None
) -> tuple[Method, Options, Connection]:
    """The call's settings, checked up front: a ``UsageError`` for a bad method or endpoint,
    or (no ``connection`` given) for credentials missing from the environment and ``.env``."""
    from bsstream.status import UsageError

    try:
        chosen = Method(method)
    except ValueError:
        names = ", ".join(f"Method.{m.name}" for m in Method)
        raise UsageError(f"unknown method {method!r}: expected {names}") from None
    connection = connection if connection is not None else Connection.from_env()
    connection.parsed_endpoint()
    return chosen, options if options is not None else Options(), connection


async def run(
    audio: AudioInput,
    method: Method,
    options: Options,
    connection: Connection,
    deliver: Callable[[ResultMessage], Awaitable[None]],
) -> StreamEnd:
    """Stream ``audio``; every result message goes to ``deliver`` as it arrives; reconnects
    and lost utterances are logged (logger "bsstream", WARNING)."""
    target = Target(connection.parsed_endpoint(), connection.insecure, connection.ca_cert)

    async def emit(item: Item) -> None:
        if isinstance(item, ResultMessage):
            await deliver(item)
        elif isinstance(item, (Reconnect, UtteranceLost)):
            log.warning("%s", item.line())

    link = Link(CHANNELS.acquire(target), EndpointChecks(target))
    try:
        engine = StreamEngine(link, StreamOptions.of(method, options, connection), audio, emit)
        return await engine.run()
    finally:
        await CHANNELS.release(target)
