#!/usr/bin/env python3
"""A counting HTTP/1.1 sink for benchmarks (standard library only): answers
every request 200 with keep-alive and writes how many it has taken to
COUNT_FILE once a second. Usage: python3 bench/http_sink.py PORT COUNT_FILE"""
import asyncio
import sys


async def read_request(reader):
    """One HTTP/1.1 request from the stream: (path, body), or None at its end."""
    request = await reader.readline()
    if not request:
        return None
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return request.split()[1], await reader.readexactly(length)


async def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    taken = 0

    async def handle(reader, writer):
        nonlocal taken
        try:
            while await read_request(reader) is not None:
                taken += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        while True:
            with open(path, "w") as f:
                f.write(f"{taken}\n")
            await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main())
