"""deploy/Caddyfile when a worker dies: the other keeps serving, writes included.

Caddy (up to 2.11) closes a request's body when the first upstream refuses the connection,
so a POST it retries on the next upstream fails there, and that failure counts against the
healthy upstream: with one of two workers killed, the proxy had none left for 30 s
(`make soak` found it; docs/reliability.md). The Caddyfile does not retry writes, so a
write that reaches a dead worker gets a 502 at once (clients retry it with its
Idempotency-Key), and the healthy worker stays in.

Runs Debian's `caddy` in front of two tiny HTTP servers standing in for workers.
"""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.multiworker_support import Topology, free_port, http_request, require


class StandInWorker:
    """Answers /healthz with 200 and a POST with 201, counting the posts it stored."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.posts = 0
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(200 if self.path == "/healthz" else 404)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                worker.posts += 1
                self._answer(201)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        """Gone at once, as a killed worker is: connections to its port are refused."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)


def test_a_write_to_a_killed_worker_does_not_take_the_healthy_one_out_of_the_proxy(tmp_path):
    require(shutil.which("caddy") is not None, "Caddy (Debian package `caddy`) is not installed")
    killed, healthy = StandInWorker("worker-a"), StandInWorker("worker-b")
    topology = Topology({}, tmp_path, session_id=0)
    topology.workers = {w.name: (w, w.port) for w in (killed, healthy)}  # type: ignore[misc]
    try:
        proxy_port = topology.start_proxy()
        require(proxy_port is not None, "Caddy is not installed")
        killed.stop()  # before the proxy's next health check notices
        statuses = []
        for number in range(12):
            status, _, _ = http_request(
                proxy_port,
                "POST",
                "/api/sessions/1/entries",
                headers={"Host": "127.0.0.1", "Content-Type": "application/json"},
                body=b'{"kind": "text", "body": "post %d"}' % number,
            )
            statuses.append(status)
    finally:
        topology.stop()
    # At most the one write that reached the dead worker failed, and it failed fast (502,
    # retried by the client); the healthy worker was never taken out (no 503).
    assert 503 not in statuses, statuses
    assert statuses.count(502) <= 1, statuses
    assert statuses.count(201) >= len(statuses) - 1, statuses
    assert healthy.posts == statuses.count(201)
