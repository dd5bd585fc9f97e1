"""The serve bench's load client (bench/load_client.py) against a real socket server in process:
bounded keep-alive connections, open loop, waits counted, the in-flight bound, failures."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bench.load_client import Planned, encode, run_open_loop


@dataclass
class Server:
    """A small HTTP/1.1 server: ``GET /sleep/<ms>`` answers 200 after that long; counts connections."""

    port: int = 0
    connections: int = 0
    requests: int = 0
    bodies: list[bytes] = field(default_factory=list)
    close_after_each: bool = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ")
                length = next((int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length:")), 0)
                if length:
                    self.bodies.append(await reader.readexactly(length))
                self.requests += 1
                await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
                status = b"201 Created" if method == "POST" else b"200 OK"
                close = b"Connection: close\r\n" if self.close_after_each else b""
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n" + close + b"\r\nok")
                await writer.drain()
                if self.close_after_each:
                    return
        finally:
            writer.close()


@asynccontextmanager
async def serving(**options: bool) -> AsyncIterator[Server]:
    server = Server(**options)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def get(at: float, ms: int, port: int, label: str = "read") -> Planned:
    return Planned(at, encode("GET", f"/sleep/{ms}", f"127.0.0.1:{port}", {"Authorization": "Bearer t"}), label)


async def test_requests_share_a_bounded_set_of_keep_alive_connections_and_the_wait_counts():
    async with serving() as server:
        schedule = [get(0.0, 20, server.port) for _ in range(40)]
        results = await run_open_loop("127.0.0.1", server.port, schedule, connections=4, max_in_flight=100)
    assert [r.status for r in results] == [200] * 40
    assert server.connections == 4 and server.requests == 40
    # 40 requests of 20 ms over 4 connections: the last ones waited ~9 turns for a free connection,
    # and that wait is in their latency and their lag (scheduled → written)
    assert max(r.latency for r in results) >= 0.18
    assert max(r.lag for r in results) >= 0.15
    assert min(r.lag for r in results) < 0.05


async def test_the_loop_is_open_a_slow_answer_does_not_hold_back_later_requests():
    async with serving() as server:
        schedule = [get(0.0, 400, server.port, "slow")] + [get(0.05 * i, 1, server.port) for i in range(1, 6)]
        results = await run_open_loop("127.0.0.1", server.port, schedule, connections=4, max_in_flight=100)
    slow = next(r for r in results if r.label == "slow")
    fast = [r for r in results if r.label == "read"]
    assert slow.latency >= 0.4
    assert len(fast) == 5 and all(r.status == 200 and r.latency < 0.2 for r in fast)
    assert results[-1].label == "slow"  # it finished last although it was sent first


async def test_a_request_over_the_in_flight_bound_is_refused_not_queued():
    async with serving() as server:
        schedule = [get(0.0, 200, server.port) for _ in range(10)]
        results = await run_open_loop("127.0.0.1", server.port, schedule, connections=2, max_in_flight=3)
    statuses = sorted(r.status for r in results)
    assert statuses == [-2] * 7 + [200] * 3
    assert all(r.latency == 0.0 for r in results if r.status == -2)
    assert server.requests == 3


async def test_connections_the_server_closes_are_replaced_and_bodies_are_sent_whole():
    async with serving(close_after_each=True) as server:
        host = f"127.0.0.1:{server.port}"
        body = b'{"kind": "note", "html": "<p>' + "é".encode() * 3000 + b'</p>"}'
        schedule = [
            Planned(0.01 * i, encode("POST", "/sleep/1", host, {"Content-Type": "application/json"}, body), "write")
            for i in range(12)
        ]
        results = await run_open_loop("127.0.0.1", server.port, schedule, connections=2, max_in_flight=50)
    assert [r.status for r in results] == [201] * 12
    assert server.connections == 12  # one per request: each closed connection was replaced
    assert server.bodies == [body] * 12


async def test_a_server_that_is_not_there_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        results = await run_open_loop("127.0.0.1", port, [get(0.0, 1, port), get(0.01, 1, port)],
                                      connections=2, max_in_flight=10)
    assert [r.status for r in results] == [-1, -1]
