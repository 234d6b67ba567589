"""Every list is paged, and no page is larger than FA_MAX_PAGE whatever `?limit=` asks for.

Two shapes, both with `?limit=` and `?offset=`:
- `BoundedLimitOffsetPagination` (the default, e.g. GET /api/questions/): DRF's `{count, next, previous, results}`.
- `BoundedListPagination` for a question's evidence and predictions: the body stays the bare JSON list those
  endpoints have always returned (docs/design.md), and the paging travels in headers: `X-Total-Count`, and a `Link`
  header with `rel="next"` / `rel="prev"` (RFC 8288), as GitHub's API does.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.FA_MAX_PAGE


class BoundedListPagination(BoundedLimitOffsetPagination):
    def get_paginated_response(self, data):
        links = [f'<{url}>; rel="{rel}"' for rel, url in (("next", self.get_next_link()),
                                                          ("prev", self.get_previous_link())) if url]
        headers = {"X-Total-Count": str(self.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema):
        return schema
