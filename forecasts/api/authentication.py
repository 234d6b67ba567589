"""Token authentication with a lifetime: a token older than FA_TOKEN_TTL_DAYS days is refused with a 401 that says
it expired, so a client knows to sign in again rather than suspect its credentials. 0 keeps tokens forever."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

EXPIRED = "token expired: sign in again at /api/auth/token/"


def token_expired(token) -> bool:
    days = settings.FA_TOKEN_TTL_DAYS
    return bool(days) and token.created < timezone.now() - timedelta(days=days)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed(EXPIRED)
        return user, token
