"""http:// and https:// inputs, decoded as they download.

The body is read with ``urllib`` (redirects followed, nothing of ours sent: no API key, no
cookies) and fed to the same stream decoder as stdin (:func:`bsstream.audio.piped.open_source`),
so decoding starts with the first bytes and memory stays flat.

Failures are classified by facts, never by message text: the HTTP status code
(404/410 not found and 401/403 denied are input errors, exit 4; 5xx and 429 are the server's
trouble, exit 5) and the exception's type (DNS: ``socket.gaierror``; refused, reset; a timeout:
``TimeoutError``; TLS: ``ssl.SSLError``; all exit 5). A server that stops sending for
``--timeout`` seconds, or closes before the length it announced, ends the input with a
connection failure (exit 5) after the audio that did arrive has been streamed.

Secrets: a URL's user info and query string (a presigned URL's signature) are registered with
:mod:`bsstream.redact` and never shown; every message names the input by
:func:`display_name` (scheme, host, port and path only).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from typing import TYPE_CHECKING

from bsstream.redact import register_secret
from bsstream.status import BsError, ConnectionFailure, InputError

if TYPE_CHECKING:
    import http.client

__all__ = ["UrlBody", "display_name", "is_url", "open_url"]

SCHEMES = ("http://", "https://")
USER_AGENT = "bsstream"


def is_url(spec: str) -> bool:
    """An http:// or https:// input (case-insensitive scheme)."""
    return spec[:8].lower().startswith(SCHEMES)


def display_name(url: str) -> str:
    """The URL as shown anywhere: without user info, query string or fragment."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}{port}{parts.path}"


def register_url_secrets(url: str) -> None:
    """Mask a URL's query string, user info and password in every message."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return
    register_secret(parts.query)
    register_secret(parts.password)
    if parts.username and parts.password:
        register_secret(f"{parts.username}:{parts.password}")
    for _, value in urllib.parse.parse_qsl(parts.query):
        register_secret(value)


def _stripped_of_userinfo(url: str) -> tuple[str, str | None]:
    """(url without user:pass@, a Basic Authorization header for it or None)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    import base64

    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    netloc = parts.netloc.rsplit("@", 1)[1]
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), f"Basic {token}"


def _failure(name: str, exc: BaseException, timeout: float, *, after: int | None = None) -> BsError:
    """One error for a failed request or read, classified by the exception's type and status."""
    import socket  # here, not at the top: every other input starts faster without them
    import ssl
    import urllib.error

    where = "" if after is None else f" after {after} bytes"
    if isinstance(exc, urllib.error.HTTPError):
        return _http_failure(name, exc.code)
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, socket.gaierror):
        return ConnectionFailure(
            f"{name}: cannot resolve the host name", hint="check the URL and your network"
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return ConnectionFailure(
            f"{name}: the server sent nothing for {timeout:g} s{where}",
            hint="check the server, or raise --timeout",
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionFailure(f"{name}: connection refused", hint="check the URL's host and port")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectionFailure(f"{name}: the server's TLS certificate is not trusted", hint="check the URL")
    if isinstance(exc, ssl.SSLError):
        return ConnectionFailure(f"{name}: TLS failed", hint="check the URL")
    return _connection_failure(name, exc, where)


def _http_failure(name: str, code: int) -> BsError:
    """An HTTP error status: not found, access denied, try later (429, 5xx), else the URL."""
    if code in (404, 410):
        return InputError(f"{name}: not found (HTTP {code})", hint="check the URL")
    if code in (401, 403):
        return InputError(
            f"{name}: access denied (HTTP {code})",
            hint="the link may have expired or need credentials; get a fresh one",
        )
    if code == 429 or code >= 500:
        return ConnectionFailure(f"{name}: the server answered HTTP {code}", hint="try again later")
    return InputError(f"{name}: the server answered HTTP {code}", hint="check the URL")


def _connection_failure(name: str, exc: BaseException, where: str) -> BsError:
    """A connection cut or failed while reading; anything else: the URL could not be opened."""
    import http.client

    if isinstance(exc, http.client.IncompleteRead):
        return ConnectionFailure(
            f"{name}: the server closed the connection{where} before the end of the file",
            hint="try again",
        )
    if isinstance(exc, ConnectionError | http.client.HTTPException):
        return ConnectionFailure(
            f"{name}: the connection failed{where} ({type(exc).__name__})", hint="try again"
        )
    if isinstance(exc, OSError):
        return ConnectionFailure(
            f"{name}: the connection failed{where} ({exc.strerror or type(exc).__name__})"
        )
    return InputError(f"{name}: cannot open the URL ({type(exc).__name__})", hint="check the URL")


class UrlBody:
    """A response body as a stream: ``read``/``read1`` return what has arrived. A failure while
    reading (a stall longer than the timeout, a cut connection) ends the stream (b"") and is
    kept in ``error``; the source then raises it after the audio that arrived."""

    def __init__(self, name: str, response: http.client.HTTPResponse, timeout: float) -> None:
        self.name = name
        self._response = response
        self._timeout = timeout
        self.count = 0
        self.error: BsError | None = None
        self.length: int | None = None
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit():
            self.length = int(length)

    def read(self, n: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            data: bytes = self._response.read1(n if n > 0 else 64 * 1024)
        except ValueError:  # closed under us
            return b""
        except Exception as exc:
            self.error = _failure(self.name, exc, self._timeout, after=self.count)
            return b""
        self.count += len(data)
        return data

    read1 = read

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection
            self._response.close()

    def fileno(self) -> int:  # not a descriptor we can poll: decode treats it like BytesIO
        raise OSError("no descriptor")


def open_url(url: str, *, timeout: float) -> UrlBody:
    """Start downloading ``url``; its body as a stream. Errors (one line each): see the module
    docstring. Every read waits at most ``timeout`` seconds."""
    import urllib.request

    register_url_secrets(url)
    name = display_name(url)
    try:
        target, auth = _stripped_of_userinfo(url)
        request = urllib.request.Request(target, headers={"User-Agent": USER_AGENT})
        if auth is not None:
            request.add_unredirected_header("Authorization", auth)  # not carried to a redirect
        response = urllib.request.urlopen(request, timeout=timeout)
    except ValueError:
        raise InputError(f"{name}: not a valid URL", hint="check the URL") from None
    except Exception as exc:
        raise _failure(name, exc, timeout) from None
    return UrlBody(name, response, timeout)
