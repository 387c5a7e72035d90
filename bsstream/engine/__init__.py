"""The stream engine: the one path from audio to the wire and back (grpc.aio).

- :mod:`bsstream.engine.options`: what a stream is told (pure: ``Method``, ``Options``,
  ``Connection``, and the engine's own ``StreamOptions``);
- :mod:`bsstream.engine.core`: one stream's loop (``StreamEngine``), its producer, consumer
  and watchdog, reconnect and resume;
- :mod:`bsstream.engine.wire`: the grpc.aio channel and call;
- :mod:`bsstream.engine.feed`: audio sources pulled without blocking the event loop;
- :mod:`bsstream.engine.bridge`: the background event loop the sync faces run the engine on.
"""
