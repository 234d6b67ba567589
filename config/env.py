"""Typed readers for settings taken from the environment.

Each helper raises ImproperlyConfigured on a value it cannot read, so a typo in production fails at start-up rather
than silently falling back to a default.
"""

import math
import os
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use one of 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        # float() reads "nan" and "inf"; no setting of ours means either, and a nan passes every `<` check silently.
        raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number")
    return value


def env_rate(name: str, default: str) -> str:
    """A throttle rate in DRF's syntax, `<count>/<period>` (5/min, 30/hour): refused at start-up if unreadable."""
    raw = (os.environ.get(name) or default).strip()
    count, _, period = raw.partition("/")
    # DRF reads the period by its first letter: s(ec), m(in), h(our), d(ay).
    if not count.isdigit() or int(count) < 1 or not period.isalpha() or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate: use <count>/<period>, such as 5/min or 30/hour")
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(url: str) -> dict:
    """Turn postgres://user:pass@host:port/name (or sqlite:///path) into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL {url!r} names no database (postgres://user@host:5432/NAME)")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"DATABASE_URL {url!r} has a port that is not a number") from None
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "OPTIONS": options,
            # Reuse connections across requests; health checks drop one that a database restart killed.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if path.startswith("//") or path.startswith("/"):  # sqlite:////abs/path
            path = path[1:]
        if not path:
            raise ImproperlyConfigured(f"DATABASE_URL {url!r} names no file (sqlite:///db.sqlite3)")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    raise ImproperlyConfigured(
        f"DATABASE_URL {url!r} has scheme {parts.scheme!r}; use postgres://user:pass@host:port/name or sqlite:///path"
    )


def validate_broker_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "memory", "amqp"):
        raise ImproperlyConfigured(f"{name}={url!r}: scheme must be redis://, rediss:// (or memory:// in tests)")
    if parts.scheme.startswith("redis"):
        try:
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError:
            raise ImproperlyConfigured(f"{name}={url!r} has a port that is not a number") from None
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name}={url!r} names no host (redis://127.0.0.1:6379/0)")
    return url


def parse_email_url(url: str) -> dict:
    """Turn smtp://user:pass@host:587?tls=1 (smtps:// for implicit TLS; console:// or locmem://) into Django's EMAIL_*
    settings. The user and password may be percent-encoded."""
    parts = urlsplit(url)
    if parts.scheme in ("console", "locmem", "dummy"):
        return {"EMAIL_BACKEND": f"django.core.mail.backends.{parts.scheme}.EmailBackend"}
    if parts.scheme not in ("smtp", "smtps"):
        raise ImproperlyConfigured(f"EMAIL_URL has scheme {parts.scheme!r}; use smtp://, smtps://, console:// or locmem://")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a port that is not a number") from None
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no host (smtp://user:pass@smtp.example.org:587?tls=1)")
    options = {key: values[-1].strip().lower() for key, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"tls", "ssl", "timeout"}
    if unknown:
        raise ImproperlyConfigured(f"EMAIL_URL has unknown options {sorted(unknown)}: use tls=1, ssl=1 or timeout=S")
    for flag in ("tls", "ssl"):
        if options.get(flag, "0") not in _TRUE | _FALSE:
            raise ImproperlyConfigured(f"EMAIL_URL option {flag}={options[flag]!r} is not a boolean")
    use_ssl = parts.scheme == "smtps" or options.get("ssl", "0") in _TRUE
    use_tls = options.get("tls", "0") in _TRUE
    if use_ssl and use_tls:
        raise ImproperlyConfigured("EMAIL_URL: tls (STARTTLS) and ssl (implicit TLS) exclude each other")
    try:
        timeout = float(options.get("timeout", "10"))
    except ValueError:
        raise ImproperlyConfigured(f"EMAIL_URL option timeout={options['timeout']!r} is not a number") from None
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if use_ssl else 587 if use_tls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": timeout,
    }
