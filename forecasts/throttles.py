"""Rate limits on sign-in, sign-up and the API, held in Django's cache (Redis in production, so every gunicorn worker
and host counts against the same limits; a process-local cache locally and in tests).

Rates are DRF's syntax (`5/min`) read from the environment into REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
(config/settings.py). Sign-in is limited per username AND per address: per username stops a slow spread of guesses
at one account from many addresses, per address stops one address trying many accounts. Every attempt counts, the
right password included, so a guesser cannot learn that the password was right by being let through.

The web and admin sign-in forms use the same classes through `login_throttled`, so one setting and one cache bound
every way of trying a password.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle


def _username_of(request) -> str:
    data = getattr(request, "data", None)
    if data is None:
        data = request.POST
    username = data.get("username", "") if hasattr(data, "get") else ""
    if not isinstance(username, str):
        return ""
    # One bucket per account whatever the spelling: `Organizer` and its fullwidth form are one name.
    return unicodedata.normalize("NFKC", str(username)).casefold()[:150]


class LoginAddressThrottle(SimpleRateThrottle):
    """Sign-in attempts from one address (REMOTE_ADDR, or the proxy header's client when NUM_PROXIES is set)."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": "login-addr", "ident": self.get_ident(request)}


class LoginUsernameThrottle(SimpleRateThrottle):
    """Sign-in attempts at one username, from anywhere."""

    scope = "login"

    def get_cache_key(self, request, view):
        username = _username_of(request)
        if not username:
            return None  # nothing to guess at; the address throttle still counts the request
        # Hashed: a cache key must be short and plain ASCII whatever the client typed.
        ident = hashlib.sha256(username.encode()).hexdigest()
        return self.cache_format % {"scope": "login-user", "ident": ident}


class RegisterThrottle(AnonRateThrottle):
    """Sign-ups from one address, signed in or not."""

    scope = "register"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


LOGIN_THROTTLES = (LoginAddressThrottle, LoginUsernameThrottle)


def too_many(wait: float | None, *, json: bool = False, what: str = "sign-in attempts") -> HttpResponse:
    seconds = max(1, math.ceil(wait or 1))
    message = f"too many {what}; try again in {seconds} seconds"
    response: HttpResponse = (JsonResponse({"detail": message}, status=429) if json
                              else HttpResponse(message, status=429, content_type="text/plain; charset=utf-8"))
    response["Retry-After"] = str(seconds)
    return response


def throttle_wait(request: HttpRequest, classes=LOGIN_THROTTLES) -> float | None:
    """None when every throttle lets the request through; otherwise the seconds until the slowest one would.

    Every throttle is asked (and so counts the attempt) even after one refuses, as DRF's own views do."""
    waits = []
    for throttle_class in classes:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1.0)
    return max(waits) if waits else None


def post_throttled(classes, what: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a page view: a POST over any of the throttles' limits is a 429 with Retry-After."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                wait = throttle_wait(request, classes)
                if wait is not None:
                    return too_many(wait, what=what)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


# Django's LoginView and the admin's login; the sign-up page.
login_throttled = post_throttled(LOGIN_THROTTLES, "sign-in attempts")
signup_throttled = post_throttled((RegisterThrottle,), "sign-ups from your address")
