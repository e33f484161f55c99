"""A fault-injecting HTTP/1.1 proxy between workers and one Prefect API process, for the chaos tests.

Each request a worker sends is, at the configured rates and from one seeded random generator:
answered 502/503/504 by the proxy; cut by a TCP reset (before it reaches the server, or after,
so the server did the work and the answer is lost); held without an answer until the worker gives
up (past its request timeout); answered with a truncated body; or stalled 2-10 s before it is
passed on. Everything else is passed on unchanged. A WebSocket upgrade (the event stream) is
tunnelled as bytes, and cut by a reset at the reset rate once it has run a while.

It runs in a thread of the test process with its own asyncio loop. Only 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable

FAULTS = ("reset_before", "reset_after", "hang", "error", "truncate", "stall")


@dataclass(frozen=True)
class FaultRates:
    """The chance of each fault per request, 0..1 (they are exclusive; the rest pass)."""
    reset: float = 0.0   # half before the request reaches the server, half after
    hang: float = 0.0
    error: float = 0.0   # 502, 503 or 504 from the proxy
    truncate: float = 0.0
    stall: float = 0.0   # 2-10 s, then passed on
    stall_seconds: tuple[float, float] = (2.0, 10.0)


class ChaosProxy:
    def __init__(self, upstream_port: int, rates: FaultRates, seed: int):
        self.upstream_port = upstream_port
        self.rates = rates
        self.random = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.enabled = True
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"chaos-proxy-{upstream_port}", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._scripted: list[tuple[Callable[[bytes], bool], str, float]] = []
        self._serving: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> "ChaosProxy":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self):
        async def close():
            self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def once(self, matches: Callable[[bytes], bool], fault: str, seconds: float = 0.0) -> "ChaosProxy":
        """The next request for which `matches(request bytes)` is true gets `fault` (one of
        FAULTS; `stall` for `seconds`), whatever the rates: a focused test's fault."""
        assert fault in FAULTS, fault
        self._scripted.append((matches, fault, seconds))
        return self

    # MARK: - Choosing

    def _choose(self, request: bytes) -> tuple[str | None, float]:
        """One fault or None (with a stall's seconds): a scripted one, else from the seeded
        generator (only the proxy's loop thread draws)."""
        self.requests += 1
        for index, (matches, fault, seconds) in enumerate(self._scripted):
            if matches(request):
                del self._scripted[index]
                self.injected[fault] += 1
                return fault, seconds
        return self._draw(), self.random.uniform(*self.rates.stall_seconds)

    def _draw(self) -> str | None:
        if not self.enabled:
            return None
        draw = self.random.random()
        r = self.rates
        for fault, rate in (("reset", r.reset), ("hang", r.hang), ("error", r.error), ("truncate", r.truncate),
                            ("stall", r.stall)):
            if draw < rate:
                if fault == "reset":
                    fault = self.random.choice(("reset_before", "reset_after"))
                self.injected[fault] += 1
                return fault
            draw -= rate
        return None

    # MARK: - Serving

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        # Held here: asyncio keeps only a weak hold on a connection's task, and a stalled request
        # whose worker hung up must still be passed on, not collected.
        task = asyncio.current_task()
        self._serving.add(task)
        try:
            while True:
                try:
                    head = await client_reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                headers = _headers(head)
                body = await _read_body(client_reader, headers, request=True)
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._tunnel(head + body, client_reader, client_writer)
                    return
                fault, stall_seconds = self._choose(head + body)
                if fault == "reset_before":
                    _reset(client_writer)
                    return
                if fault == "hang":
                    await client_reader.read()  # until the worker gives up and closes
                    return
                if fault == "error":
                    code = self.random.choice((502, 503, 504))
                    text = b'{"detail": "injected by the chaos proxy"}'
                    client_writer.write(b"HTTP/1.1 %d Injected\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                                        % (code, len(text), text))
                    await client_writer.drain()
                    continue
                if fault == "stall":
                    # Passed on after the stall even when the worker gave up meanwhile: a request
                    # a proxy or a busy server holds is applied late.
                    await asyncio.sleep(stall_seconds)
                response_head, response_body = await self._forward(head + body, head)
                if fault == "reset_after":
                    _reset(client_writer)
                    return
                if fault == "truncate":
                    client_writer.write(response_head + response_body[: len(response_body) // 2])
                    await client_writer.drain()
                    client_writer.close()
                    return
                client_writer.write(response_head + response_body)
                await client_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            self._serving.discard(task)
            if not client_writer.is_closing():
                client_writer.close()

    async def _forward(self, request: bytes, request_head: bytes) -> tuple[bytes, bytes]:
        """One request on a connection of its own (no stale pooled connection to the server)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if request_head.startswith(b"HEAD ") or status in (204, 304) or status < 200:
                return head, b""
            return head, await _read_body(reader, _headers(head), request=False)
        finally:
            writer.close()

    async def _tunnel(self, opening: bytes, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        writer.write(opening)
        cut_after = self.random.uniform(5, 30) if self.enabled and self.random.random() < self.rates.reset * 10 else None

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if not sink.is_closing():
                    sink.close()
        pipes = [asyncio.ensure_future(pipe(client_reader, writer)), asyncio.ensure_future(pipe(reader, client_writer))]
        done, _ = await asyncio.wait(pipes, timeout=cut_after, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            self.injected["stream_reset"] += 1
            _reset(client_writer)
        for task in pipes:
            task.cancel()
        writer.close()


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)}


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], request: bool) -> bytes:
    """The body as sent (chunked bodies raw, with their framing)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raw = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    raw += trailer
                return raw + b"\r\n"
            raw += await reader.readexactly(size + 2)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return b"" if request else await reader.read()


def _reset(writer: asyncio.StreamWriter):
    """Closes with a TCP RST (SO_LINGER 0), as a dropped connection looks to the worker."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
