"""Errors raised by services, each mapped to one HTTP status by forecasts.api.errors.exception_handler."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: dict[str, list[str]] | str):
        self.detail = detail if isinstance(detail, dict) else {"detail": detail}
        super().__init__(str(self.detail))


class Invalid(ServiceError):
    """Bad input: `detail` maps each offending field to the rules it broke."""

    status_code = 400

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        return cls({name: [message]})


class Forbidden(ServiceError):
    """The caller is signed in but their role does not allow this call."""

    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    """The question's status (or an earlier final step) does not allow this call now."""

    status_code = 409
