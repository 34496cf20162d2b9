"""A lean HTTP/1.1 keep-alive client for load generation: plain asyncio streams, one connection per
concurrent caller. On a two-core box the load generator shares the CPU with the servers it measures;
httpx spends about a millisecond of CPU per request, this a tenth of that, so the servers' own costs
show and more of the box is left for them."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    first_byte_seconds: float  # to the first byte of the body (the first streamed event)
    seconds: float  # to the last byte


class Connection:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, payload: dict, headers: dict[str, str]) -> Reply:
        body = json.dumps(payload).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{head}\r\n"
        ).encode() + body
        started = time.perf_counter()
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request)
        await writer.drain()
        status_line, *header_lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        response_headers = {
            name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines if ":" in line)
        }
        if response_headers.get("transfer-encoding") == "chunked":
            chunks, first_byte = [], None
            while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
                chunks.append(await reader.readexactly(size))
                first_byte = first_byte or time.perf_counter()
                await reader.readexactly(2)
            await reader.readexactly(2)
            content = b"".join(chunks)
        else:
            content = await reader.readexactly(int(response_headers.get("content-length", "0")))
            first_byte = time.perf_counter()
        finished = time.perf_counter()
        if response_headers.get("connection") == "close":
            writer.close()
            self._streams = None
        return Reply(status, response_headers, content, (first_byte or finished) - started, finished - started)

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
