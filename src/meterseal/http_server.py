"""Serving an ASGI app with uvicorn on a socket we bind: the ledger service, the witness
service and the console share this plumbing.

Each service binds its own listening socket (``port`` 0: any free port, which tests and
``--listen 127.0.0.1:0`` use) with ``TCP_NODELAY``, which accepted sockets inherit: without
it a small request/response exchange waits on delayed ACKs (about 40 ms a request here).
uvicorn then serves on that socket, in the foreground until a signal
(:func:`serve_until_signal`), in a background thread (:class:`ServerThread`, tests), or in
the caller's event loop (:mod:`meterseal.api.server`).
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from meterseal.errors import MeterSealError

DEFAULT_HOST = "127.0.0.1"
BACKLOG = 128


class ListenError(MeterSealError):
    """A service cannot listen: a malformed address, or the port is taken or forbidden."""


def parse_listen(text: str, *, option: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6; an empty host means 127.0.0.1) as a pair."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ListenError(f"{option} takes HOST:PORT, not {text!r}")
    return host.strip("[]") or DEFAULT_HOST, int(port)


def bind(
    host: str,
    port: int,
    *,
    service: str = "the service",
    error: type[MeterSealError] = ListenError,
) -> socket.socket:
    """A listening TCP socket; ``error`` (naming ``service``) if the address cannot be used."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited when accepted
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise error(f"{service} cannot listen on {host}:{port}: {exc}") from exc
    return sock


def url_of(sock: socket.socket, *, https: bool = False) -> str:
    """The base URL of a bound socket, e.g. ``http://127.0.0.1:7480``."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if https else 'http'}://{shown}:{port}"


def make_server(app: FastAPI) -> uvicorn.Server:
    """A quiet uvicorn server for ``app`` (no access log, no lifespan events)."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


def serve_until_signal(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM, then return normally.

    uvicorn shuts down gracefully on the signal and then re-raises it to the handler it
    found installed; a handler that does nothing lets the caller close what it opened and
    exit with status 0.
    """
    previous = {sig: signal.signal(sig, _handled) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        make_server(app).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _handled(signum: int, frame: object) -> None:
    """A signal uvicorn has already acted on."""


class ServerThread:
    """``app`` served from a background thread on a socket of its own (tests, tools)."""

    def __init__(
        self,
        app: FastAPI,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        error: type[MeterSealError] = ListenError,
    ) -> None:
        self._error = error
        self._sock = bind(host, port, error=error)
        self.url = url_of(self._sock)
        self._server = make_server(app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise self._error("the HTTP service did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Finish the requests in flight, stop, close the socket."""
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
