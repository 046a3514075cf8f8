"""A counting SMTP sink for benchmarks: accepts every message (aiosmtpd, a real
SMTP server) and writes how many it has accepted, and when the last arrived, to
a file after each message. Usage: python3 bench/smtp_sink.py PORT COUNT_FILE"""
import asyncio
import sys
import time

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self, path):
        self.path = path
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        with open(self.path, "w") as f:
            f.write(f"{self.n} {time.time():.3f}\n")
        return "250 OK"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Counter(path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
