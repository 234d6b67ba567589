"""A real SMTP server to mail into: aiosmtpd on a free loopback port, in a thread of this process.

Used by the integration suite (a worker process mails into it), the browser suite (the live server mails into it) and
bench/bench_notifications.py. It keeps every message it accepts, raw, and parses one only when asked, so that counting
10,000 mails costs the sink little.

    with SmtpSink() as sink:
        ... point the mailer at sink.url (EMAIL_URL) or sink.django_settings() ...
        [message] = sink.wait_for(1)
"""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """Accepts every mail; `count` is the number of recipients received, `messages` the mails parsed."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()
        self._raw: list[tuple[list[str], bytes]] = []
        self._count = 0
        self._changed = threading.Condition()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    @property
    def url(self) -> str:
        """The EMAIL_URL (config/env.py) that mails here."""
        return f"smtp://{self.host}:{self.port}"

    def django_settings(self) -> dict:
        """Django's EMAIL_* settings that mail here, for a process whose settings are already loaded."""
        return {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": self.host,
                "EMAIL_PORT": self.port, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False,
                "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": ""}

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept(self, rcpts: list[str], content: bytes) -> None:
        with self._changed:
            self._raw.append((rcpts, content))
            self._count += len(rcpts)
            self._changed.notify_all()

    @property
    def count(self) -> int:
        """Recipients received so far (a mail to two addresses counts two)."""
        with self._changed:
            return self._count

    @property
    def messages(self) -> list[EmailMessage]:
        with self._changed:
            raw = [content for _, content in self._raw]
        return [message_from_bytes(content, policy=policy.default) for content in raw]  # type: ignore[misc]

    @property
    def received(self) -> list[tuple[str, str]]:
        """(recipient, subject) for each recipient of each mail."""
        with self._changed:
            raw = list(self._raw)
        return [(rcpt, str(message_from_bytes(content, policy=policy.default)["Subject"]))
                for rcpts, content in raw for rcpt in rcpts]

    def wait(self, count: int, timeout: float = 30) -> None:
        """Block until `count` recipients have been received (woken by each mail, no polling). Raises TimeoutError
        naming how many came."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._count < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the SMTP sink received {self._count} of {count} mails in {timeout:.0f} s")
                self._changed.wait(left)

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        """`wait`, then every mail received so far, parsed."""
        self.wait(count, timeout)
        return self.messages


class _Handler:
    """What aiosmtpd calls, in the controller's thread. A class apart from the sink because aiosmtpd reads every
    attribute of its handler at each connection, which would parse every stored mail through `messages`."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:
        self._sink._accept(list(envelope.rcpt_tos), bytes(envelope.content))
        return "250 OK"


def body_text(message: EmailMessage) -> str:
    """The plain-text body of a mail (its text/plain part)."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"no text/plain part in {message['Subject']!r}"
    return part.get_content()
