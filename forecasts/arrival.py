"""When a request reached the platform: the stamp the close is judged by (docs/design.md, Close by arrival).

ArrivalMiddleware, first in MIDDLEWARE, stamps every request with the server's clock before anything else runs, so
time spent queued behind other requests (gunicorn's backlog, the question's row lock) does not count against the
sender. Behind a proxy that stamps requests itself, FA_REQUEST_START_HEADER names its header (nginx:
`proxy_set_header X-Request-Start "t=${msec}";`, seconds since the epoch), and that stamp is used instead. With the
setting off (the default) the header is ignored, so a client cannot choose its own stamp; with it on, the proxy must
overwrite whatever the client sent. A proxy stamp later than the server's own clock is capped at the clock.

A proxy's stamp has a resolution: nginx's `t=1700000000.123` says the request arrived somewhere in the millisecond
[.123, .124). The close is judged by the latest instant the stamp allows, so a request whose millisecond holds
closes_at counts as after it: nothing that may have arrived after the close is stored. For a closes_at on a whole
millisecond (any time a person sets) the rule is exact: a stamp before it is a millisecond wholly before it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from django.conf import settings

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_request_start(raw: str) -> tuple[datetime, timedelta] | None:
    """The instant a proxy's stamp names and the stamp's resolution, from seconds since the epoch with their
    fraction: `t=1700000000.123` (nginx's `${msec}`) or a bare `1700000000.123` is 1 ms wide, `1700000000` 1 s,
    six decimals 1 µs (finer digits are dropped). None for anything else, or a time outside what a datetime holds."""
    text = raw.strip().removeprefix("t=")
    try:
        seconds = Decimal(text)
        if not seconds.is_finite() or seconds <= 0:
            return None
        digits = min(6, max(0, -int(seconds.as_tuple().exponent)))  # an int once the value is finite
        micro = int(seconds.scaleb(6).to_integral_value(rounding=ROUND_FLOOR))
        return _EPOCH + timedelta(microseconds=micro), timedelta(microseconds=10 ** (6 - digits))
    except (InvalidOperation, ValueError, OverflowError):
        return None


def request_start_meta_key() -> str:
    header = settings.FA_REQUEST_START_HEADER
    return "HTTP_" + header.upper().replace("-", "_") if header else ""


def arrival_stamp(meta: dict, now: datetime) -> datetime:
    """The arrival the close is judged by: the proxy's stamp at the last microsecond of its resolution (see above),
    capped at the server's clock; the server's clock when there is no proxy stamp."""
    key = request_start_meta_key()
    parsed = parse_request_start(meta[key]) if key and key in meta else None
    if parsed is None:
        return now
    start, resolution = parsed
    return min(now, start + resolution - timedelta(microseconds=1))


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
