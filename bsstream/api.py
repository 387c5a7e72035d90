"""The sync face: iterate results as they arrive.

Every stream runs on the engine (grpc.aio) on one background event loop per process, shared
by all sync streams; results reach the caller's thread through a bounded hand-off. The
asyncio face is :mod:`bsstream.aio`.
"""

from __future__ import annotations

from collections.abc import Iterator

from bsstream.engine import bridge
from bsstream.engine.client import resolve, run
from bsstream.engine.options import Connection, Method, Options
from bsstream.engine.sources import Source, open_source
from bsstream.protocol.results import ResultMessage


def stream(
    source: Source,
    method: Method | str = Method.ANALYZE,
    options: Options | None = None,
    connection: Connection | None = None,
) -> Iterator[ResultMessage]:
    """Stream ``source`` and yield each result message as it arrives.

    ``source``: a path (any format the CLI decodes), an audio file's ``bytes``, a binary file
    object, or an iterable of raw PCM chunks (16 kHz mono 16-bit little-endian: live audio
    from your own capture). ``connection``: where and as whom (default:
    :meth:`Connection.from_env`). Reconnects and resumes as the CLI does; a failure raises a
    :class:`bsstream.BsError` subclass (``.status`` is the CLI's exit status). Closing the
    iterator early (``break``, ``.close()``) cancels the call.

    >>> import bsstream
    >>> with bsstream.Emulator() as emulator:
    ...     connection = bsstream.Connection.emulator(emulator.address)
    ...     path = "tests/data/01_jfk_16k_mono_s16.wav"
    ...     messages = list(bsstream.analyze(path, connection=connection))
    >>> summary = bsstream.summarize(messages)
    >>> len(messages) > 0 and summary.tasks != ()
    True
    """
    chosen, opts, conn = resolve(method, options, connection)
    return _iterate(source, chosen, opts, conn)


def analyze(
    source: Source, options: Options | None = None, connection: Connection | None = None
) -> Iterator[ResultMessage]:
    """:func:`stream` with ``Method.ANALYZE`` (behavioural analysis, rpc StreamAudio).

    >>> import bsstream, wave
    >>> with wave.open("tests/data/01_jfk_16k_mono_s16.wav") as w:  # 16 kHz mono s16le
    ...     pcm = w.readframes(w.getnframes())
    >>> def capture():  # stands in for a microphone: 0.1 s of PCM at a time
    ...     for i in range(0, len(pcm), 3200):
    ...         yield pcm[i : i + 3200]
    >>> with bsstream.Emulator() as emulator:
    ...     connection = bsstream.Connection.emulator(emulator.address)
    ...     for message in bsstream.analyze(capture(), connection=connection):
    ...         print(message.source, message.results[0].start_time)
    ...         break  # closing early cancels the call
    <pcm> 0.06
    """
    return stream(source, Method.ANALYZE, options, connection)


def deepfake(
    source: Source, options: Options | None = None, connection: Connection | None = None
) -> Iterator[ResultMessage]:
    """:func:`stream` with ``Method.DEEPFAKE`` (deepfake detection, rpc DeepfakeDetection).

    >>> import bsstream
    >>> with bsstream.Emulator() as emulator:
    ...     connection = bsstream.Connection.emulator(emulator.address)
    ...     path = "tests/data/01_jfk_16k_mono_s16.wav"
    ...     messages = list(bsstream.deepfake(path, connection=connection))
    >>> {r.task for m in messages for r in m.results} >= {"deepfake"}
    True
    """
    return stream(source, Method.DEEPFAKE, options, connection)


def _iterate(
    source: Source, method: Method, options: Options, connection: Connection
) -> Iterator[ResultMessage]:
    opened = open_source(source)
    try:
        handoff: bridge.Handoff[ResultMessage] = bridge.Handoff(bridge.background_loop())
        running = bridge.Running(
            run(opened.audio, method, options, connection, handoff.put), on_done=handoff.finish
        )
        try:
            while not isinstance(item := handoff.get(), bridge.Done):
                yield item
            end = running.wait()
        finally:
            if not running.future.done():
                running.cancel()  # closed early: the engine cancels the call
                running.settle()
        if end.error is not None:
            raise end.error
    finally:
        opened.close()
