"""The floor: a minimal broadcast server on the `websockets` library, no Django, no Channels.

Readers connect to ws://127.0.0.1:PORT/ (any path) and only receive. A POST of
{"body": "..."} to http://127.0.0.1:POST_PORT/ builds an entry message shaped like
liveblog's (same keys, a similar wrapper around the body), numbers it, and sends it to
every reader with websockets.broadcast(), the library's own fan-out. It answers the POST
with {"seq": N} once the frames are written.

    python -m bench.raw_server PORT POST_PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvloop
from websockets.asyncio.server import broadcast, serve

WRAPPER = (
    '<article id="entry-{seq}" class="entry entry--text" data-seq="{seq}" data-created-seq="{seq}">'
    '\n  <header class="entry__meta">\n    <a class="entry__time" href="/events/bench/keynote/'
    'entries/{seq}/" title="Permalink"><time datetime="2026-11-23T09:00:00+00:00">09:00</time>'
    '</a>\n    \n    <span class="entry__author">Ben Blogger</span>\n    \n  </header>\n  \n'
    '  <div class="entry__body prose" hx-disable><p>{body}</p></div>\n  \n</article>'
)


class Stream:
    def __init__(self) -> None:
        self.readers: set = set()
        self.seq = 0

    async def reader(self, connection) -> None:
        self.readers.add(connection)
        try:
            await connection.wait_closed()
        finally:
            self.readers.discard(connection)

    def publish(self, body: str) -> int:
        self.seq += 1
        html = WRAPPER.format(seq=self.seq, body=body)
        message = {"type": "entry", "action": "created", "id": self.seq, "seq": self.seq}
        message.update({"key_moment": False, "html": html})
        broadcast(self.readers, json.dumps(message, separators=(",", ":")))
        return self.seq

    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = json.loads(await reader.readexactly(length))["body"] if length else ""
        seq = self.publish(body)
        answer = json.dumps({"seq": seq}).encode()
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(answer), answer)
        )
        await writer.drain()
        writer.close()


async def main(port: int, post_port: int) -> None:
    stream = Stream()
    http = await asyncio.start_server(stream.http, "127.0.0.1", post_port, backlog=2048)
    async with serve(stream.reader, "127.0.0.1", port, backlog=2048, compression=None), http:
        await asyncio.Future()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
