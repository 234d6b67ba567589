"""Request parsers: the JSON parser with one more way for a body to be malformed."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ..limits import holds_lone_surrogates


class SafeJSONParser(JSONParser):
    """DRF's JSONParser, but a body nested past the interpreter's recursion limit (a few hundred KB of `[`) is a 400.

    The json module raises RecursionError (not the ValueError DRF catches) once nesting exceeds the recursion limit,
    so without this such a body is a 500. No valid request is nested anywhere near that deep.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
        if holds_lone_surrogates(data):
            raise ParseError("JSON parse error - the body holds text that is not valid Unicode "
                             "(an unpaired \\ud800-\\udfff escape)")
        return data
