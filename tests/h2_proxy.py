"""An HTTP/2-aware fault proxy for tests: cuts ONE call (one HTTP/2 stream) of a connection
that carries several, and leaves the others running.

gRPC multiplexes every call of a channel over one TCP connection, so a TCP-level fault
(tests/tcp_proxy.py) always hits every call at once; ``--channels split`` streams each channel
as its own call over one connection. To fail one channel's call alone, this proxy reads the
plaintext HTTP/2 (h2c, prior knowledge: the client preface, then 9-byte-headed frames) in both
directions, forwards every frame unchanged, and when the ``nth`` stream the client opened
(0-based, in the order of its HEADERS frames) has sent ``after`` bytes of DATA payload (or,
with ``after_responses``, once the server has sent that many DATA frames on it: answers the
client has received), it injects, between two whole frames, RST_STREAM on that stream both ways:

- to the server ``CANCEL``: the server's handler sees the call cancelled, as when a client
  goes away;
- to the client ``REFUSED_STREAM``, which gRPC reports as UNAVAILABLE: a call the network lost,
  which bsstream reconnects and resumes (a new stream on the same connection).

Nothing is dropped, so both ends keep the same HPACK and flow-control state; frames of the reset
stream still in flight are handled by each end as the HTTP/2 spec says (ignored, or answered
with RST_STREAM). Only plaintext: the test runs with ``--insecure``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM = 0x0, 0x1, 0x3
REFUSED_STREAM, CANCEL = 0x7, 0x8


def rst_stream(stream_id: int, code: int) -> bytes:
    return struct.pack(">I", 4)[1:] + bytes([RST_STREAM, 0]) + struct.pack(">II", stream_id, code)


class _Reader:
    """Whole frames (header and payload) from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def read(self, n: int) -> bytes | None:
        while len(self.buffer) < n:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def frame(self) -> tuple[int, int, bytes] | None:
        """(type, stream id, the whole frame) or None at the end."""
        head = self.read(9)
        if head is None:
            return None
        length = int.from_bytes(head[:3], "big")
        payload = self.read(length)
        if payload is None:
            return None
        return head[3], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, head + payload


@dataclass
class _Conn:
    client: socket.socket
    server: socket.socket
    to_client: threading.Lock = field(default_factory=threading.Lock)
    to_server: threading.Lock = field(default_factory=threading.Lock)
    streams: list[int] = field(default_factory=list)  # client-opened stream ids, in order
    data: dict[int, int] = field(default_factory=dict)  # stream id -> DATA payload bytes sent
    answers: dict[int, int] = field(default_factory=dict)  # stream id -> DATA frames received


class StreamCutProxy:
    """``with StreamCutProxy("127.0.0.1:PORT", nth=1, after=150_000) as proxy: ...``;
    ``proxy.cuts`` lists (stream id, its DATA bytes then) for each cut (at most one);
    ``proxy.opened`` the stream ids the client opened, per connection."""

    def __init__(
        self, upstream: str, *, nth: int, after: int = 0, after_responses: int | None = None
    ) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.nth = nth
        self.after = after
        self.after_responses = after_responses
        self.cuts: list[tuple[int, int]] = []
        self.connections = 0
        self.opened: list[list[int]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, name="h2-proxy-accept", daemon=True)

    def __enter__(self) -> StreamCutProxy:
        self._listener.listen(16)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        _close(self._listener)
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            _close(s)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                return
            server.settimeout(None)
            conn = _Conn(client, server)
            with self._lock:
                self.connections += 1
                self.opened.append(conn.streams)
                self._sockets += [client, server]
            threading.Thread(target=self._up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._down, args=(conn,), daemon=True).start()

    def _up(self, conn: _Conn) -> None:
        """Client to server, frame by frame; the cut fires after the frame that reaches ``after``."""
        reader = _Reader(conn.client)
        preface = reader.read(len(PREFACE))
        if preface is None or not _send(conn.server, conn.to_server, preface):
            return self._end(conn)
        while (frame := reader.frame()) is not None:
            kind, stream, raw = frame
            if kind == HEADERS and stream and stream not in conn.data:
                conn.streams.append(stream)
                conn.data[stream] = 0
            if not _send(conn.server, conn.to_server, raw):
                break
            if kind == DATA and stream in conn.data:
                conn.data[stream] += len(raw) - 9
                if self.after_responses is None:
                    self._maybe_cut(conn, stream)
        self._end(conn)

    def _maybe_cut(self, conn: _Conn, stream: int) -> None:
        with self._lock:
            reached = (
                conn.data[stream] >= self.after
                if self.after_responses is None
                else conn.answers.get(stream, 0) >= self.after_responses
            )
            due = (
                not self.cuts
                and len(conn.streams) > self.nth
                and conn.streams[self.nth] == stream
                and reached
            )
            if due:
                self.cuts.append((stream, conn.data[stream]))
        if due:
            _send(conn.client, conn.to_client, rst_stream(stream, REFUSED_STREAM))
            _send(conn.server, conn.to_server, rst_stream(stream, CANCEL))

    def _down(self, conn: _Conn) -> None:
        reader = _Reader(conn.server)
        while (frame := reader.frame()) is not None:
            kind, stream, raw = frame
            if not _send(conn.client, conn.to_client, raw):
                break
            if kind == DATA and stream in conn.data and self.after_responses is not None:
                conn.answers[stream] = conn.answers.get(stream, 0) + 1
                self._maybe_cut(conn, stream)
        self._end(conn)

    def _end(self, conn: _Conn) -> None:
        for s in (conn.client, conn.server):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _send(sock: socket.socket, lock: threading.Lock, data: bytes) -> bool:
    """Whole frames only: a frame injected by the other direction never lands inside one."""
    try:
        with lock:
            sock.sendall(data)
        return True
    except OSError:
        return False


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
