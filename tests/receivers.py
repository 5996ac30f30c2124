"""Real local receivers for alert tests: an SMTP server (aiosmtpd) and an HTTP endpoint
(http.server in a thread), both on 127.0.0.1, recording what arrives."""
from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1; ``messages`` holds the parsed e-mails, ``envelopes`` (from, to)."""

    def __init__(self):
        self.messages, self.envelopes = [], []
        self.port = free_port()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                policy=policy.default))
        return "250 OK"

    def __enter__(self):
        from aiosmtpd.controller import Controller
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class HttpReceiver:
    """A JSON webhook endpoint; ``requests`` holds (path, headers, parsed body)."""

    def __init__(self, status: int = 204):
        self.requests: list[tuple[str, dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/recon"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def config_copy(dest, replace: dict[str, str] | None = None, after: dict[str, str] | None = None):
    """data/recon.toml written to ``dest`` with rate cards by absolute path, each ``replace`` key
    replaced by its value, and each ``after`` text inserted after the line that starts with it
    (e.g. a deadline into one source's [sources.sftp])."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "data"
    text = (root / "recon.toml").read_text("utf-8")
    text = re.sub(r'rate_card = "rate_cards/', f'rate_card = "{root}/rate_cards/', text)
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    for anchor, extra in (after or {}).items():
        assert anchor in text, anchor
        text = text.replace(anchor, anchor + extra, 1)
    Path(dest).write_text(text, "utf-8")
    return Path(dest)
