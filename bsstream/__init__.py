"""bsstream: stream audio to the Behavioral Signals streaming API and show what comes back.

As a library (names load on first use, so ``import bsstream`` stays light)::

    import bsstream

    connection = bsstream.Connection.from_env()  # BS_CID, BS_API_KEY, BS_ENDPOINT (or .env)
    for message in bsstream.analyze("call.wav", connection=connection):
        for result in message.results:
            print(result.start_time, result.end_time, result.task, result.final_label)

``bsstream.aio`` has the same functions as async iterators (grpc.aio, on your event loop).

Runnable examples, in the repository's ``examples/`` (each is run by the test suite):

- ``examples/live_capture.py``: your own live PCM chunks streamed with :func:`bsstream.stream`;
- ``examples/asyncio_service.py``: many calls at once in one process with :mod:`bsstream.aio`;
- ``examples/test_with_emulator.py``: testing your code against :class:`bsstream.Emulator`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bsstream.version import __version__

if TYPE_CHECKING:
    from bsstream import aio
    from bsstream.api import analyze, deepfake, stream
    from bsstream.emulator.server import Emulator
    from bsstream.engine.options import Connection, Method, Options
    from bsstream.protocol.results import Prediction, Result, ResultMessage
    from bsstream.protocol.summary import Summary, TaskSummary, summarize
    from bsstream.status import (
        AuthError,
        BsError,
        ConnectionFailure,
        ExitStatus,
        InputError,
        ServiceError,
        UsageError,
    )

_WHERE = {
    "aio": "bsstream.aio",
    "analyze": "bsstream.api",
    "deepfake": "bsstream.api",
    "stream": "bsstream.api",
    "Emulator": "bsstream.emulator.server",
    "Connection": "bsstream.engine.options",
    "Method": "bsstream.engine.options",
    "Options": "bsstream.engine.options",
    "Prediction": "bsstream.protocol.results",
    "Result": "bsstream.protocol.results",
    "ResultMessage": "bsstream.protocol.results",
    "Summary": "bsstream.protocol.summary",
    "TaskSummary": "bsstream.protocol.summary",
    "summarize": "bsstream.protocol.summary",
    "AuthError": "bsstream.status",
    "BsError": "bsstream.status",
    "ConnectionFailure": "bsstream.status",
    "ExitStatus": "bsstream.status",
    "InputError": "bsstream.status",
    "ServiceError": "bsstream.status",
    "UsageError": "bsstream.status",
}

__all__ = [
    "AuthError",
    "BsError",
    "Connection",
    "ConnectionFailure",
    "Emulator",
    "ExitStatus",
    "InputError",
    "Method",
    "Options",
    "Prediction",
    "Result",
    "ResultMessage",
    "ServiceError",
    "Summary",
    "TaskSummary",
    "UsageError",
    "__version__",
    "aio",
    "analyze",
    "deepfake",
    "stream",
    "summarize",
]


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'bsstream' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(where)
    value = module if where == f"bsstream.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
