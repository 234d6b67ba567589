"""Published rules written out again for the tests, with the standard library only and independently of the code
under test, so a test can check the platform's answer against them."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from fractions import Fraction


# docs/prizes.md's draw, copied verbatim from "Re-running a draw by hand" (test_allocation_draw.py's
# test_it_documents_the_snippet_it_tests keeps the two in step). Standard library only, on purpose: this is what an
# auditor runs.
def draw(seed, weights):
    entries = [(k, round(Fraction(Decimal(str(w))) * 10**6)) for k, w in sorted(weights.items())]
    entries = [(k, units) for k, units in entries if units > 0]
    total = sum(units for _, units in entries)
    message = seed + "\n" + "\n".join(f"{k}:{units}" for k, units in entries)
    limit, counter = 2**256 - 2**256 % total, 0
    while (value := int(hashlib.sha256(f"{message}\n{counter}".encode()).hexdigest(), 16)) >= limit:
        counter += 1
    r = value % total
    for k, units in entries:
        if r < units:
            return k
        r -= units
