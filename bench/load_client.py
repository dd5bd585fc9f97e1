"""An open-loop HTTP/1.1 load client: requests at their scheduled times over a bounded set of
keep-alive connections, latency counted from each request's scheduled time.

Why not httpx (which the serve bench used first): in one process httpx spent 1.4 ms of CPU per
request at 200 requests/s, and when the server's latency rose for a moment it opened a new
connection for every waiting request — set-up, pool bookkeeping and parsing for hundreds of
connections took the client's one core, the client fell behind its own schedule, and the latency
it reported (seconds) was its own: a second client (``wrk``, one connection) measured the same
server at that moment answering in 3 ms. A load client must cost the machine little and keep
costing little under stress, or it measures itself. This one:

* parses answers with ``httptools`` (llhttp, the parser uvicorn itself uses) in an
  :class:`asyncio.Protocol`, with every request's bytes built before the run starts;
* opens at most ``connections`` keep-alive connections (opened lazily, reopened when the server
  closes one); a request that finds none free waits in the client for the next one to be free,
  and that wait counts in its latency (what a bounded proxy or browser pool in front of the
  server would do — no coordinated omission);
* refuses a request that would make more than ``max_in_flight`` waiting or open at once (it counts
  as an error, status -2), so a collapsing server cannot grow the client without bound.

Each :class:`Result` also says how late the request was written (scheduled time → bytes handed to
the socket, including any wait for a connection), so a run can show the client kept to its
schedule.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httptools


@dataclass(frozen=True)
class Planned:
    """One request of a schedule: ``at`` seconds after the start, its raw bytes, a label."""

    at: float
    raw: bytes
    label: str


@dataclass(frozen=True)
class Result:
    """What became of one :class:`Planned` request.

    ``status`` is the HTTP status, -1 for a transport error (connection refused or lost before the
    answer), -2 for a request refused by the client's in-flight bound. ``latency`` (s) runs from
    the scheduled time to the end of the answer (0.0 when refused); ``lag`` (s) from the scheduled
    time to the request being written.
    """

    at: float
    label: str
    status: int
    latency: float
    lag: float


def encode(method: str, path: str, host: str, headers: dict[str, str], body: bytes | None = None) -> bytes:
    """The bytes of an HTTP/1.1 request (keep-alive; ``Content-Length`` when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed by llhttp."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed before the answer"))

    # httptools callbacks
    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if not self.parser.should_keep_alive():
            self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def send(self, raw: bytes) -> int:
        """Write ``raw`` and wait for the whole answer; its status code.

        Raises:
            ConnectionError / httptools.HttpParserError: the connection failed before the answer.
        """
        self.waiter = self.loop.create_future()
        assert self.transport is not None
        self.transport.write(raw)
        return await self.waiter


class LoadClient:
    """At most ``connections`` keep-alive connections to ``host:port``, shared by the requests;
    an answer not complete ``timeout`` seconds after its request was written is a transport error."""

    def __init__(self, host: str, port: int, *, connections: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.limit, self.timeout = host, port, connections, timeout
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Connection] = []
        self.opened = 0
        self.waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()

    async def _acquire(self) -> _Connection:
        while True:
            while self.idle:
                connection = self.idle.pop()
                if not connection.closed:
                    return connection
                self.opened -= 1
            if self.opened < self.limit:
                self.opened += 1
                try:
                    _, connection = await self.loop.create_connection(lambda: _Connection(self.loop), self.host, self.port)
                except OSError:
                    self.opened -= 1
                    raise
                return connection  # type: ignore[return-value]
            waiter: asyncio.Future[_Connection | None] = self.loop.create_future()
            self.waiters.append(waiter)
            handed = await waiter
            if handed is not None:
                return handed
            # a closed connection freed its place: loop round and open one

    def _release(self, connection: _Connection) -> None:
        handed: _Connection | None = connection
        if connection.closed:
            self.opened -= 1
            handed = None
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return
        if handed is not None:
            self.idle.append(handed)

    async def request(self, raw: bytes) -> tuple[int, float]:
        """Send ``raw`` on a free connection (waiting for one if needed): ``(status, written at)``
        with ``written at`` on :func:`time.perf_counter`'s clock; status -1 on a transport error or a timeout."""
        try:
            connection = await self._acquire()
        except OSError:
            return -1, time.perf_counter()
        written = time.perf_counter()
        try:
            status = await asyncio.wait_for(connection.send(raw), self.timeout)
        except (OSError, TimeoutError, httptools.HttpParserError):
            connection.close()
            status = -1
        self._release(connection)
        return status, written

    def close(self) -> None:
        """Close every idle connection."""
        for connection in self.idle:
            connection.close()
        self.idle.clear()


async def run_open_loop(host: str, port: int, schedule: Sequence[Planned], *, connections: int,
                        max_in_flight: int) -> list[Result]:
    """Send every request of ``schedule`` at its own time, whatever happened to the earlier ones.

    ``schedule`` must be sorted by ``at``. Returns one :class:`Result` per request, in the order
    they finished (refused ones at once).

    The garbage collector is off for the run (and back on after): a full collection of the
    bench process's heap holds the client's loop for up to hundreds of milliseconds, which would
    count in every open request's latency. The run's own objects hold no reference cycles.
    """
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        return await _run(host, port, schedule, connections=connections, max_in_flight=max_in_flight)
    finally:
        if was_enabled:
            gc.enable()


async def _run(host: str, port: int, schedule: Sequence[Planned], *, connections: int,
               max_in_flight: int) -> list[Result]:
    client = LoadClient(host, port, connections=connections)
    loop = client.loop
    results: list[Result] = []
    in_flight = 0
    # time.perf_counter, not loop.time(): uvloop's clock moves in whole milliseconds
    start = time.perf_counter() + 0.2

    async def one(item: Planned) -> None:
        nonlocal in_flight
        try:
            status, written = await client.request(item.raw)
        finally:
            in_flight -= 1
        due = start + item.at
        results.append(Result(item.at, item.label, status, time.perf_counter() - due, max(0.0, written - due)))

    tasks = set()
    for item in schedule:
        delay = start + item.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= max_in_flight:
            results.append(Result(item.at, item.label, -2, 0.0, 0.0))
            continue
        in_flight += 1
        task = loop.create_task(one(item))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    client.close()
    return results
