"""Serve Liveblog with daphne and the websocket limits docs/security.md promises.

    python -m liveblog.server [daphne options]   e.g. -b 127.0.0.1 -p 8000

Readers only ever send a tiny ping, so incoming websocket frames are capped small; an
idle socket is pinged, and one that does not answer is closed. autobahn, under daphne,
holds what the server sends to the same message cap as what it receives, so that cap
stays above the largest change the server can send: an entry of the longest body, in its
most expanding Markdown, framed as JSON (tests/test_server_limits.py checks the margin). `make run`, the Docker
image and the tests that start real servers all go through here. It is also tuned for a
room whose readers reconnect at once (docs/benchmarks.md, reconnect storm): a listen
backlog of 2,048, a garbage collector that does not walk every socket's objects over and
over, and autobahn's debug lines formatted only when logged.
"""

from __future__ import annotations

import argparse
import functools
import gc
import pprint
import sys

from autobahn.websocket import protocol as autobahn_protocol
from daphne.cli import CommandLineInterface

APPLICATION = "liveblog.asgi:application"
MAX_FRAME_BYTES = 4096  # a reader's ping is 15 bytes
MAX_MESSAGE_BYTES = 128 * 1024  # both ways: also the largest message the server may send
WEBSOCKET_LIMITS = [
    "--websocket-max-frame-size", str(MAX_FRAME_BYTES),
    "--websocket-max-message-size", str(MAX_MESSAGE_BYTES),
    "--ping-interval", "20",  # seconds idle before the server pings
    "--ping-timeout", "30",  # seconds without an answer before it closes the socket
    "--websocket_connect_timeout", "10",  # seconds to finish the handshake
]  # fmt: skip


# Connections the kernel queues before the server accepts them. Twisted's default (50)
# refuses handshakes when a room's readers reconnect at once; the kernel caps this at
# net.core.somaxconn (4096 on current Linux).
LISTEN_BACKLOG = 2048


def arguments(argv: list[str]) -> list[str]:
    """daphne's arguments: the limits first, -b/-p as an endpoint with our backlog."""
    address = argparse.ArgumentParser(add_help=False)
    address.add_argument("-b", "--bind")
    address.add_argument("-p", "--port", type=int)
    given, rest = address.parse_known_args(argv)
    args = [*WEBSOCKET_LIMITS]
    endpoints = ("-e", "--endpoint", "-u", "--unix-socket", "--fd")
    if given.bind is None and given.port is None and any(a.startswith(endpoints) for a in rest):
        args += rest  # the caller names its own endpoints
    else:  # daphne's defaults, 127.0.0.1:8000, with our backlog
        host = (given.bind or "127.0.0.1").strip("[]").replace(":", r"\:")  # as daphne does
        port = 8000 if given.port is None else given.port
        args += ["-e", f"tcp:port={port}:interface={host}:backlog={LISTEN_BACKLOG}", *rest]
    if not any(arg.endswith(":application") for arg in argv):
        args.append(APPLICATION)
    return args


class _Deferred:
    """A call made only if someone prints its result (as a log line's argument)."""

    __slots__ = ("args", "function")

    def __init__(self, function, *args) -> None:
        self.function = function
        self.args = args

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __str__(self) -> str:
        return str(self.function(*self.args))


def _deferring(function):
    return functools.wraps(function)(lambda *args: _Deferred(function, *args))


def quiet_autobahn() -> None:
    """autobahn formats the arguments of its debug lines on every connection, whether or
    not debug lines are logged: its whole configuration pretty-printed, and names and
    values coloured (hltype, hlval). That was about a seventh of a handshake's CPU when
    a room reconnects at once; they are formatted now only when a line is logged."""
    from autobahn.twisted import websocket as autobahn_twisted

    for module in (autobahn_protocol, autobahn_twisted):
        for name in ("pformat", "hltype", "hlval"):
            original = getattr(module, name, None)
            if original is not None and not hasattr(original, "__wrapped__"):
                setattr(module, name, _deferring(original))
    # The one use that is not a log argument: a str() that must be a str.
    autobahn_protocol.Timings.__str__ = lambda self: pprint.pformat(self._timings)


# The cyclic garbage collector's first-generation threshold (Python's default is 700).
# A worker with thousands of readers holds hundreds of thousands of live objects, and a
# room reconnecting at once allocates fast: with the default, full collections walked them
# all over and over, half of the server's CPU in a storm of 3,000. Collecting the young
# generation every GC_THRESHOLD allocations instead makes full collections rare; what is
# loaded at start (Django, the apps, the templates) is moved out of their way for good.
GC_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    import liveblog.asgi  # noqa: F401  (loaded once here, and found loaded by daphne)

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 10, 10)


def main(argv: list[str] | None = None) -> None:
    quiet_autobahn()
    tune_garbage_collector()
    CommandLineInterface().run(arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
