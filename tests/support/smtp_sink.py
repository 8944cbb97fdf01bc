"""A real SMTP server for the tests: every message it accepts becomes a file.

Run as ``python -m tests.support.smtp_sink DIR``; it prints its port once ready
and keeps each message as ``DIR/<n>.eml``.  It runs in its own process so the
services' green threads and aiosmtpd's asyncio never share a loop.
"""
import itertools
import socket
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class SaveToDirectory:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            number = next(self.numbers)
        partial = self.directory / f".{number}.eml.part"
        partial.write_bytes(envelope.original_content)
        partial.rename(self.directory / f"{number}.eml")  # whole files only
        return "250 Message accepted"


def main():
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(SaveToDirectory(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
