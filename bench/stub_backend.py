"""An instant OpenAI-compatible backend for benchmarks: answers /v1/chat/completions (streamed or not)
and /v1/models at once, so what a benchmark measures is the proxy in front of it. Plain asyncio HTTP/1.1
with keep-alive: a web framework here would add its own milliseconds to every arm of a comparison.
The tests also use it to inject model-server faults the real local server cannot produce on demand:
`--delay` answers completions late, `--garbage` answers them with a body that is not JSON.

    .venv/bin/python bench/stub_backend.py --port 9000 [--delay SECONDS] [--garbage]"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

STREAM_CHUNKS = 8  # content chunks of a streamed answer


def _completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
        }
    ).encode()


def _chunk(model: str, delta: dict, finish: str | None) -> bytes:
    body = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, garbage: bool) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = dict(line.split(":", 1) for line in header_lines if ":" in line)
            length = int(next((v for k, v in headers.items() if k.strip().lower() == "content-length"), "0"))
            body = json.loads(await reader.readexactly(length)) if length else {}
            model = body.get("model", "stub")
            completion = method == "POST" and path.rstrip("/").endswith("/chat/completions")
            if completion and delay:
                await asyncio.sleep(delay)
            if completion and garbage:
                writer.write(_response("200 OK", b"<html>502 Bad Gateway</html>", "application/json"))
            elif path.rstrip("/").endswith("/models"):
                writer.write(_response("200 OK", json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode()))
            elif completion and body.get("stream"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                events = [_chunk(model, {"role": "assistant", "content": ""}, None)]
                events += [_chunk(model, {"content": "ok "}, None) for _ in range(STREAM_CHUNKS)]
                events += [_chunk(model, {}, "stop"), b"data: [DONE]\n\n"]
                for event in events:
                    writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                writer.write(b"0\r\n\r\n")
            elif completion:
                writer.write(_response("200 OK", _completion(model)))
            else:
                writer.write(_response("404 Not Found", b'{"error": "not found"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(host: str, port: int, delay: float = 0.0, garbage: bool = False) -> None:
    server = await asyncio.start_server(
        lambda reader, writer: _serve(reader, writer, delay, garbage), host, port, backlog=1024
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering a completion")
    parser.add_argument("--garbage", action="store_true", help="answer completions with a body that is not JSON")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.delay, args.garbage))


if __name__ == "__main__":
    main()
