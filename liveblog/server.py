"""Serve Liveblog with daphne and the websocket limits docs/security.md promises.

    python -m liveblog.server [daphne options]   e.g. -b 127.0.0.1 -p 8000

Readers only ever send a tiny ping, so incoming websocket messages are capped small; an
idle socket is pinged, and one that does not answer is closed. `make run`, the Docker
image and the tests that start real servers all go through here.
"""

from __future__ import annotations

import sys

from daphne.cli import CommandLineInterface

APPLICATION = "liveblog.asgi:application"
WEBSOCKET_LIMITS = [
    "--websocket-max-message-size", "4096",  # bytes; a reader's ping is 15
    "--websocket-max-frame-size", "4096",
    "--ping-interval", "20",  # seconds idle before the server pings
    "--ping-timeout", "30",  # seconds without an answer before it closes the socket
    "--websocket_connect_timeout", "10",  # seconds to finish the handshake
]  # fmt: skip


def arguments(argv: list[str]) -> list[str]:
    args = [*WEBSOCKET_LIMITS, *argv]
    if not any(arg.endswith(":application") for arg in argv):
        args.append(APPLICATION)
    return args


def main(argv: list[str] | None = None) -> None:
    CommandLineInterface().run(arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
