"""Sizes and bounds of what a client may send, in one place. Serializers and forms read them to describe their
fields; the services enforce them. The engine's own limits (points in a spec, mixture depth, the largest pool and
prize power) live in amplification/ and are re-exported here so no caller writes a number twice."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from django.conf import settings

from amplification import allocation
from amplification.grid import MAX_POINTS

# Questions
MAX_TITLE = 300
MAX_DESCRIPTION = 50_000
MAX_UNIT = 100

# Evidence
MAX_EVIDENCE_BODY = 20_000
MAX_SOURCES = 20
MAX_SOURCE_URL = 2000



def max_evidence_per_user() -> int:
    """Evidence one user may post on one question (FA_MAX_EVIDENCE_PER_USER): bounds a thread one account can fill."""
    return int(settings.FA_MAX_EVIDENCE_PER_USER)


def max_predictions_per_user() -> int:
    """Predictions (the history included) one user may make on one question (FA_MAX_PREDICTIONS_PER_USER)."""
    return int(settings.FA_MAX_PREDICTIONS_PER_USER)


# Predictions and posteriors
MAX_PREDICTION_EVIDENCE = 200  # evidence ids a prediction may cite
MAX_INFLUENCE = 10_000  # influence entries in one posterior
MAX_INFLUENCE_NOTE = 2000
# The reason an organizer gives for excluding a user from a question's prizes.
MAX_EXCLUSION_REASON = 2000
MAX_SPEC_POINTS = MAX_POINTS

# Prizes. A DecimalField(max_digits=14, decimal_places=2) holds at most 12 digits before the point; the engine's
# allocation refuses larger pools with the same bound.
MONEY_DIGITS, MONEY_PLACES = 14, 2
MAX_POOL: Decimal = allocation.MAX_POOL
MAX_SHARES = 1000
MAX_POWER = allocation.MAX_POWER
CURRENCY_LEN = 3
MAX_COMPETITION_QUESTIONS = 1000
MAX_COMPETITION_NAME = 200

# Accounts: Django's own username alphabet, said in words a person can act on.
USERNAME_PATTERN = re.compile(r"^[\w.@+-]+\Z")
USERNAME_RULE = "may contain only letters, digits and @/./+/-/_"
MAX_USERNAME = 150
MAX_PASSWORD = 128

# Ids typed into page forms or sent in JSON: positive and within PostgreSQL's bigint.
MAX_ID = 2**63 - 1
MAX_EMAIL = 254  # RFC 5321's limit on a forward path, and Django's EmailField


def holds_lone_surrogates(data) -> bool:
    """Does parsed JSON hold text no encoder takes? JSON's \\ud800 escapes decode to lone surrogates, which no
    database driver (nor a JSON renderer echoing them in an error) can encode: such text is refused at the door,
    wherever it is (here for API bodies, and in the web form that carries the editor's spec)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
