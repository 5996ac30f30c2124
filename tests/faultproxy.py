"""A TCP proxy on 127.0.0.1 that forwards to a real server and misbehaves on cue.

Each accepted connection takes the next action of ``plan`` (then "pass" for the rest):
``"pass"`` forwards both ways; ``("cut", n)`` closes both sides once ``n`` bytes have gone
server → client; ``("stall", n)`` stops forwarding after ``n`` bytes server → client but keeps
the connection open, as a hung peer or a dead NAT entry does.
"""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


class FaultProxy:
    def __init__(self, upstream_port: int, plan: list):
        self.upstream = ("127.0.0.1", upstream_port)
        self.plan = list(plan)
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._listener.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            action = self.plan.pop(0) if self.plan else "pass"
            self.connections += 1
            server = socket.create_connection(self.upstream)
            self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, action), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, action) -> None:
        limit = None if action in (None, "pass") else action[1]
        sent = 0
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[:limit - sent])
                    if action[0] == "cut":
                        break
                    self._stop.wait()  # stall: hold the connection open, forward nothing more
                    return
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@contextmanager
def growing(path):
    """``path`` appended to every 50 ms while the block runs: a file still being written."""
    stop = threading.Event()

    def writer():
        with open(path, "ab") as f:
            while not stop.is_set():
                f.write(b"row,1\n")
                f.flush()
                time.sleep(0.05)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
