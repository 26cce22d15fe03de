"""The plain Channels wiring, kept as the baseline: every reader joins the session's group.

This is the consumer liveblog had before the hub (and what other Django liveblogs do): one
channel per reader, so broadcast.py's one group_send becomes one layer message per reader,
each received by that reader's consumer and passed through Channels' dispatch (which
closes old database connections in a thread first). Same protocol, same catch-up.
Only bench/baseline_asgi.py routes to it.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from realtime import broadcast
from realtime.consumers import (
    CLOSE_BAD_REQUEST,
    CLOSE_NOT_FOUND,
    CLOSE_RELOAD,
    CatchUp,
    SessionConsumer,
    _parse_after,
)


class PlainChannelsConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.session_id = self.scope["url_route"]["kwargs"]["session_id"]
        self.group = broadcast.group_name(self.session_id)
        self.cursor = 0
        after = _parse_after(self.scope.get("query_string", b""))
        await self.accept()
        if after is None:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        # Join before reading the catch-up; live messages queue behind connect().
        await self.channel_layer.group_add(self.group, self.channel_name)
        result = await database_sync_to_async(CatchUp(self.session_id, after).load)()
        if result is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        verdict, payloads, cursor = result
        if verdict == "reload":
            await self.send(broadcast.encode({"type": "reload", "seq": cursor}))
            await self.close(code=CLOSE_RELOAD)
            return
        for payload in payloads:
            await self.send(broadcast.encode(payload))
        self.cursor = cursor
        await self.send(broadcast.encode({"type": "caught_up", "seq": cursor}))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    # Client frames are handled exactly as the real consumer handles them.
    receive = SessionConsumer.receive

    async def stream_change(self, event: dict[str, Any]) -> None:
        if event["seq"] > self.cursor:
            await self.send(event["text"])
