#!/usr/bin/env python3
"""SSE measurements against a running plant-server: stream throughput and fan-out.

  sse.py throughput HOST PORT TOKEN          stream every entry from seq 0 to the head, once
  sse.py fanout HOST PORT TOKEN GENESIS N    N live clients; one write; time until all have it

Standard library only. Prints one JSON object."""
import asyncio
import json
import sys
import time


async def open_stream(host, port, token, after):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET /api/v1/audit/feed?after={after} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise SystemExit(f"feed answered {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return reader, writer


async def next_id(reader):
    """The id of the next `entry` event (chunked framing lines are skipped)."""
    seq = None
    while True:
        line = await reader.readline()
        if not line:
            raise SystemExit("stream ended")
        if line.startswith(b"id: "):
            seq = int(line[4:])
        elif line.startswith(b"event: entry") and seq is not None:
            return seq


async def request(host, port, method, path, token, body=None):
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode() if body is not None else b""
    writer.write(
        (
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + data
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return head.split(b" ")[1].decode(), payload


async def head_seq(host, port, token):
    _, payload = await request(host, port, "GET", "/api/v1/audit/verify", token)
    text = payload.decode(errors="replace")
    # the body may be chunked; find the JSON object
    body = json.loads(text[text.index("{"): text.rindex("}") + 1])
    return int(body["head"]["seq"])


async def throughput(host, port, token):
    head = await head_seq(host, port, token)
    started = time.perf_counter()
    reader, writer = await open_stream(host, port, token, 0)
    seq = 0
    while seq < head:
        seq = await next_id(reader)
    secs = time.perf_counter() - started
    writer.close()
    print(json.dumps({"step": "throughput", "entries": head, "secs": round(secs, 3),
                      "entries_per_sec": round(head / secs)}))


async def fanout(host, port, token, genesis, n):
    head = await head_seq(host, port, token)
    streams = [await open_stream(host, port, token, head) for _ in range(n)]
    await asyncio.sleep(0.5)
    got = []

    async def wait(reader):
        await next_id(reader)
        got.append(time.perf_counter())

    waiters = [asyncio.create_task(wait(r)) for r, _ in streams]
    started = time.perf_counter()
    status, _ = await request(host, port, "POST", "/api/v1/genesis/skills", genesis, {
        "name": f"fan-out {time.time_ns()}", "description": "A skill written to time the feed.",
        "category": "technical"})
    acked = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=10)
    for _, w in streams:
        w.close()
    lat = sorted((t - started) * 1000 for t in got)
    print(json.dumps({"step": "fanout", "clients": n, "write_status": status,
                      "write_ms": round((acked - started) * 1000, 1),
                      "first_ms": round(lat[0], 1), "p50_ms": round(lat[len(lat) // 2], 1),
                      "last_ms": round(lat[-1], 1)}))


def main():
    what, host, port, token = sys.argv[1:5]
    if what == "throughput":
        asyncio.run(throughput(host, int(port), token))
    else:
        asyncio.run(fanout(host, int(port), token, sys.argv[5], int(sys.argv[6])))


if __name__ == "__main__":
    main()
