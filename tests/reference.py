"""Published rules written out again for the tests, with the standard library only and independently of the code
under test, so a test can check the platform's answer against them."""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_EVEN, Decimal


def rerun_draw(seed: str, weights: dict[str, str]) -> str:
    """docs/prizes.md's draw (sha256-millionths-rejection-v1): the key drawn from `weights` (key -> decimal weight)
    by the revealed `seed`."""
    units = [(k, int((Decimal(w) * 10**6).to_integral_value(ROUND_HALF_EVEN))) for k, w in sorted(weights.items())]
    units = [(k, u) for k, u in units if u > 0]
    total = sum(u for _, u in units)
    message = seed + "\n" + "\n".join(f"{k}:{u}" for k, u in units)
    limit = 2**256 - 2**256 % total
    counter = 0
    while (value := int.from_bytes(hashlib.sha256(f"{message}\n{counter}".encode()).digest(), "big")) >= limit:
        counter += 1
    r = value % total
    for k, u in units:
        if r < u:
            return k
        r -= u
    raise AssertionError("no winner")
