"""The client's network address, as recorded at sign-up (kept from everyone but organizers).

REMOTE_ADDR by default. Behind a reverse proxy every request comes from the proxy, so FA_CLIENT_IP_HEADER names the
header it writes (HTTP_X_FORWARDED_FOR): the last entry is the one the trusted proxy appended; earlier entries are
whatever the client sent and are ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    raw = request.META.get("REMOTE_ADDR", "")
    header = settings.FA_CLIENT_IP_HEADER
    if header and request.META.get(header):
        raw = request.META[header].split(",")[-1]
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None
