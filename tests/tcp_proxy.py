"""A deterministic fault-injecting TCP proxy for tests: 127.0.0.1, port 0, in front of a server.

Faults fire at exact byte counts of the client-to-server traffic, counted over the proxy's whole
life (every connection it carried), so a schedule such as "cut every 330,000 bytes" means the
same thing however often the client reconnects:

- ``cut``: forward up to the byte, then close both sockets (FIN both ways);
- ``reset``: forward up to the byte, then close both with SO_LINGER 0 (RST both ways);

  with ``drain`` seconds, a fault first stops the client's traffic at the byte and lets
  the server's answers through until the server has been quiet that long (at most 2 s): the
  link fails after the server answered what it got. An unpaced client sends faster than any
  server answers, so without a drain every connection could die before its first result;
- ``stall``: forward up to the byte, then forward nothing either way for ``seconds``;
- ``hang``: forward up to the byte, then nothing more on that connection, sockets left open.

``faults_fired`` records what fired, at which byte and on which connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

ACTIONS = ("cut", "reset", "stall", "hang")


@dataclass(frozen=True, order=True)
class Fault:
    at: int  # cumulative client-to-server byte count at which the fault fires
    action: str = "cut"
    seconds: float = 0.0  # for "stall"
    drain: float = 0.0  # first, answers flow until the server has been quiet this long

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")


def every(
    step: int, *, until: int, action: str = "cut", first: int | None = None, drain: float = 0.0
) -> list[Fault]:
    """The same fault every ``step`` bytes (the first at ``first``, default ``step``) up to ``until``."""
    start = step if first is None else first
    return [Fault(at, action, drain=drain) for at in range(start, until, step)]


@dataclass
class _Conn:
    number: int
    client: socket.socket
    server: socket.socket
    stall_until: float = 0.0
    hung: bool = False
    closed: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """``with FaultProxy("127.0.0.1:PORT", faults) as proxy: ... proxy.address``."""

    def __init__(self, upstream: str, faults: list[Fault] | tuple[Fault, ...] = ()) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.faults = sorted(faults)
        self.faults_fired: list[tuple[int, str, int]] = []  # (byte, action, connection number)
        self.connections = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._next = 0  # index of the next fault in self.faults
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: list[_Conn] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._listener.listen(64)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        _close(self._listener)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            self._close(conn, reset=False)
        self._thread.join(5)

    # ------------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client, reset=True)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                conn = _Conn(self.connections, client, server)
                self._conns.append(conn)
            threading.Thread(target=self._pump_up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(conn,), daemon=True).start()

    def _wait_stall(self, conn: _Conn) -> None:
        while not conn.closed.is_set():
            left = conn.stall_until - time.monotonic()
            if left <= 0 and not conn.hung:
                return
            conn.closed.wait(min(max(left, 0.01), 0.05))

    def _pump_up(self, conn: _Conn) -> None:
        """Client to server: counts bytes and fires the faults at their exact byte."""
        while not conn.closed.is_set():
            try:
                data = conn.client.recv(65536)
            except OSError:
                break
            if not data:
                break
            while data and not conn.closed.is_set():
                self._wait_stall(conn)
                with self._lock:
                    fault = self.faults[self._next] if self._next < len(self.faults) else None
                    room = fault.at - self.bytes_up if fault is not None else len(data)
                    piece = data[: max(room, 0)] if fault is not None and room < len(data) else data
                    self.bytes_up += len(piece)
                    due = fault is not None and self.bytes_up >= fault.at
                    if due:
                        assert fault is not None
                        self._next += 1
                        self.faults_fired.append((fault.at, fault.action, conn.number))
                data = data[len(piece) :]
                if piece and not _send(conn.server, piece):
                    break
                if due:
                    assert fault is not None
                    if fault.drain:
                        self._drain(conn, fault.drain)
                    if fault.action in ("cut", "reset"):
                        self._close(conn, reset=fault.action == "reset")
                        return
                    if fault.action == "stall":
                        conn.stall_until = time.monotonic() + fault.seconds
                    else:
                        conn.hung = True
        self._close(conn, reset=False)

    def _drain(self, conn: _Conn, quiet: float, limit: float = 2.0) -> None:
        """Hold the client's bytes; let answers through until none came for ``quiet`` s."""
        end = time.monotonic() + limit
        seen = -1
        while time.monotonic() < end and not conn.closed.is_set():
            with self._lock:
                down = self.bytes_down
            if down == seen:
                return
            seen = down
            conn.closed.wait(quiet)

    def _pump_down(self, conn: _Conn) -> None:
        while not conn.closed.is_set():
            try:
                data = conn.server.recv(65536)
            except OSError:
                break
            if not data:
                break
            self._wait_stall(conn)
            if conn.closed.is_set() or not _send(conn.client, data):
                break
            with self._lock:
                self.bytes_down += len(data)
        self._close(conn, reset=False)

    def _close(self, conn: _Conn, *, reset: bool) -> None:
        with self._lock:
            if conn.closed.is_set():
                return
            conn.closed.set()
        for s in (conn.client, conn.server):
            _close(s, reset=reset)


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _close(sock: socket.socket, *, reset: bool = False) -> None:
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.close()
