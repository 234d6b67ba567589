"""One error shape for the API: `{field: [message]}` for bad input, `{"detail": message}` otherwise.

DRF nests the errors of list fields and of lists of objects (`{"evidence": {"0": [...]}}`, `{"influence": [{},
{"weight": [...]}]}`); they are flattened here into the same paths the services use: `evidence[0]`,
`influence[1].weight`.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import ServiceError


def _is_messages(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def flatten_errors(detail, path: str = "") -> dict[str, list[str]]:
    """`{field: [message]}` with one key per offending leaf, named by its path from the request body's top."""
    if _is_messages(detail):
        return {path or "non_field_errors": [str(m) for m in detail]}
    if isinstance(detail, str):
        return {path or "non_field_errors": [str(detail)]}
    flat: dict[str, list[str]] = {}
    items = detail.items() if isinstance(detail, dict) else enumerate(detail)
    for key, value in items:
        if isinstance(key, int) or (isinstance(key, str) and key.isdecimal() and path):
            child = f"{path}[{key}]"
        else:
            child = f"{path}.{key}" if path else str(key)
        for name, messages in flatten_errors(value, child).items():
            flat.setdefault(name, []).extend(messages)
    return flat


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response(exc.detail, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "request body too large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        response.data = flatten_errors(response.data)
    return response
