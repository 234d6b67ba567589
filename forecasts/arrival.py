"""When a request reached the platform: the stamp the close is judged by (docs/design.md, Close by arrival).

ArrivalMiddleware, first in MIDDLEWARE, stamps every request with the server's clock before anything else runs, so
time spent queued behind other requests (gunicorn's backlog, the question's row lock) does not count against the
sender. Behind a proxy that stamps requests itself, FA_REQUEST_START_HEADER names its header (nginx:
`proxy_set_header X-Request-Start "t=${msec}";`, seconds since the epoch), and that stamp is used instead. With the
setting off (the default) the header is ignored, so a client cannot choose its own stamp; with it on, the proxy must
overwrite whatever the client sent. A proxy stamp later than the server's own clock is capped at the clock.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from django.conf import settings


def parse_request_start(raw: str) -> float | None:
    """Seconds since the epoch from `t=1700000000.123` (nginx's `${msec}`) or a bare `1700000000.123`; None if not."""
    text = raw.strip()
    if text.startswith("t="):
        text = text[2:]
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def request_start_meta_key() -> str:
    header = settings.FA_REQUEST_START_HEADER
    return "HTTP_" + header.upper().replace("-", "_") if header else ""


def arrival_stamp(meta: dict, now: datetime) -> datetime:
    key = request_start_meta_key()
    if key and key in meta:
        seconds = parse_request_start(meta[key])
        if seconds is not None:
            return min(now, datetime.fromtimestamp(seconds, tz=UTC))
    return now


class ArrivalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import timezone

        request.arrived_at = arrival_stamp(request.META, timezone.now())
        return self.get_response(request)


def arrival_of(request) -> datetime | None:
    """The request's arrival stamp (None outside a request that went through the middleware)."""
    return getattr(request, "arrived_at", None)
