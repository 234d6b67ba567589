"""The evidence draw: committed seed, reproducible by anyone, fair in proportion to weight."""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from amplification import allocation
from amplification.allocation import (
    AllocationError,
    allocate,
    draw_transcript,
    draw_winner,
    seed_commitment,
    seed_new,
    verify_commitment,
)
from tests.reference import draw

DOCS = Path(__file__).resolve().parents[2] / "docs" / "prizes.md"


SEED = "70c288c19975dee4ae86fe38f7fc7274dc05d73ff5c879babc4e0f2a4f8ed956"
EXAMPLE_WEIGHTS = {"comment-17": "0.5", "comment-4": 2, "comment-9": 0, "comment-23": 1.25}

seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
draw_keys = st.text(
    alphabet=st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]), max_size=8
)
draw_weights = st.one_of(
    st.sampled_from([0, 0.0, "0", 1, "2.5", Decimal("0.000001")]),
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**6, places=7),
    st.decimals(min_value=0, max_value=1000, places=2).map(str),
)
weight_maps = st.dictionaries(draw_keys, draw_weights, min_size=1, max_size=60).filter(
    lambda weights: any(Decimal(str(w)) > Decimal("0.0000005") for w in weights.values())
)


def test_it_makes_fresh_lowercase_hex_seeds():
    first, second = seed_new(), seed_new()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second


def test_it_commits_to_the_sha256_of_the_seed():
    assert seed_commitment(SEED) == "8be61fec922b082e3fff21ccade218af82e5f42148fdca7ccf1bfb43b1908d7e"
    assert seed_commitment(SEED) == hashlib.sha256(SEED.encode("ascii")).hexdigest()
    assert verify_commitment(SEED, seed_commitment(SEED))
    assert verify_commitment(SEED, seed_commitment(SEED).upper())


def test_it_fails_verification_when_the_seed_changes():
    other = SEED[:-1] + "7"
    assert seed_commitment(other) != seed_commitment(SEED)
    assert not verify_commitment(other, seed_commitment(SEED))


@pytest.mark.parametrize(
    ("seed", "commitment"),
    [
        ("not hex", "0" * 64),
        (SEED.upper(), seed_commitment(SEED)),
        (SEED, "0" * 63),
        (SEED, "zz" * 32),
        (SEED, "é" * 64),
        (None, "0" * 64),
        (SEED, None),
    ],
)
def test_it_fails_verification_of_malformed_input_without_raising(seed, commitment):
    assert verify_commitment(seed, commitment) is False


def test_it_runs_the_worked_example_of_the_docs():
    transcript = draw_transcript(SEED, EXAMPLE_WEIGHTS)
    assert [(e["key"], e["units"]) for e in transcript["entries"]] == [
        ("comment-17", 500000),
        ("comment-23", 1250000),
        ("comment-4", 2000000),
        ("comment-9", 0),
    ]
    assert transcript["excluded"] == ["comment-9"]
    assert transcript["total"] == 3750000
    assert transcript["counter"] == 0
    assert transcript["rejected_digests"] == []
    assert transcript["digest"] == "c90094b8e3f5616b52f46c9aa218d2b2fcad5f526065283546dc25e36b9db460"
    assert transcript["r"] == 1773712
    assert transcript["winner"] == "comment-4"
    assert transcript["commitment"] == seed_commitment(SEED)


def test_its_transcript_adds_up():
    transcript = draw_transcript(SEED, EXAMPLE_WEIGHTS)
    message = f"{SEED}\ncomment-17:500000\ncomment-23:1250000\ncomment-4:2000000"
    assert transcript["message"] == message
    digest = hashlib.sha256(f"{message}\n0".encode()).hexdigest()
    assert transcript["digest"] == digest
    assert transcript["value"] == int(digest, 16)
    assert transcript["limit"] % transcript["total"] == 0
    assert 2**256 - transcript["total"] < transcript["limit"] <= 2**256
    assert transcript["r"] == int(digest, 16) % 3750000


def test_it_documents_the_snippet_it_tests():
    text = DOCS.read_text()
    block = re.search(r"<!-- draw-snippet -->\n```python\n(.*?)```", text, re.DOTALL)
    assert block, "docs/prizes.md lost its draw snippet"
    namespace: dict = {}
    exec(block.group(1), namespace)
    assert namespace["draw"](SEED, EXAMPLE_WEIGHTS) == "comment-4"
    # Same code as the copy in this file, whatever the formatting.
    documented = next(node for node in ast.parse(block.group(1)).body if isinstance(node, ast.FunctionDef))
    assert ast.dump(documented) == ast.dump(ast.parse(inspect.getsource(draw)).body[0])


@settings(max_examples=200, deadline=None)
@given(seed=seeds, weights=weight_maps)
def test_the_stdlib_snippet_reproduces_the_winner(seed, weights):
    assert draw(seed, weights) == draw_winner(seed, weights)


@settings(max_examples=100, deadline=None)
@given(seed=seeds, weights=weight_maps, data=st.data())
def test_it_draws_the_same_winner_whatever_the_input_order(seed, weights, data):
    reordered = dict(data.draw(st.permutations(list(weights.items()))))
    assert draw_transcript(seed, reordered) == draw_transcript(seed, weights)


@settings(max_examples=100, deadline=None)
@given(seed=seeds, weights=weight_maps)
def test_it_never_draws_a_zero_weight(seed, weights):
    winner = draw_winner(seed, weights)
    assert Decimal(str(weights[winner])) > Decimal("0.0000005")


def test_it_draws_in_proportion_to_weight():
    weights = {"a": 1, "b": "2", "c": 3.0, "d": Decimal("4"), "nobody": 0, "too small": "0.0000004"}
    # 20,000 different (but fixed, so the test is repeatable) seeds.
    wins = Counter(
        draw_winner(hashlib.sha256(f"chi-square {i}".encode()).hexdigest(), weights) for i in range(20_000)
    )
    assert wins["nobody"] == 0
    assert wins["too small"] == 0
    observed = [wins[key] for key in "abcd"]
    expected = [20_000 * w / 10 for w in (1, 2, 3, 4)]
    assert chisquare(observed, expected).pvalue > 1e-4


def test_it_rejects_a_digest_at_or_above_the_limit(monkeypatch):
    # No real digest is ever rejected (the chance is below 2**-128), so counter 0's digest is forced to 2**256 - 1,
    # which is at or above the limit for any total that does not divide 2**256.
    real_sha256 = hashlib.sha256

    def sha256(data=b""):
        if data.endswith(b"\n0"):
            return _Fixed(b"\xff" * 32)
        return real_sha256(data)

    monkeypatch.setattr(allocation.hashlib, "sha256", sha256)
    transcript = draw_transcript(SEED, EXAMPLE_WEIGHTS)
    assert transcript["rejected_digests"] == ["ff" * 32]
    assert transcript["counter"] == 1
    message = f"{SEED}\ncomment-17:500000\ncomment-23:1250000\ncomment-4:2000000"
    value = int(real_sha256(f"{message}\n1".encode()).hexdigest(), 16)
    assert transcript["r"] == value % 3750000


class _Fixed:
    def __init__(self, digest: bytes) -> None:
        self._digest = digest

    def digest(self) -> bytes:
        return self._digest


def test_it_gives_the_whole_evidence_pool_to_the_drawn_comment():
    result = allocate(
        accuracy_pool=Decimal("50"),
        evidence_pool=Decimal("50"),
        accuracy_rule="winner_takes_all",
        evidence_rule="draw",
        skills={"p1": 1.0, "p2": 2.0},
        weights=EXAMPLE_WEIGHTS,
        seed=SEED,
    )
    assert {key: str(value) for key, value in result["evidence"].items()} == {
        "comment-17": "0.00",
        "comment-23": "0.00",
        "comment-4": "50.00",
        "comment-9": "0.00",
    }
    assert result["draw"] == draw_transcript(SEED, EXAMPLE_WEIGHTS)
    assert {key: str(value) for key, value in result["accuracy"].items()} == {"p1": "0.00", "p2": "50.00"}


REFUSED = [
    ("short seed", "ab" * 15, {"a": 1}, "seed"),
    ("uppercase seed", SEED.upper(), {"a": 1}, "seed"),
    ("seed not a string", 12345, {"a": 1}, "seed"),
    ("no entries", SEED, {}, "weights"),
    ("all zero", SEED, {"a": 0, "b": "0.0"}, "weights"),
    ("all below a millionth", SEED, {"a": "0.0000004"}, "weights"),
    ("negative", SEED, {"a": 1, "b": -1}, "weights"),
    ("NaN", SEED, {"a": float("nan")}, "weights"),
    ("infinite", SEED, {"a": "Infinity"}, "weights"),
    ("not a number", SEED, {"a": "lots"}, "weights"),
    ("a bool", SEED, {"a": True}, "weights"),
    ("out of range", SEED, {"a": Decimal("1e999999999")}, "weights"),
    ("total too large", SEED, {"a": Decimal("1e40")}, "weights"),
    ("newline in key", SEED, {"a\nb:1": 1}, "weights"),
    ("lone surrogate in key", SEED, {"\ud800": 1}, "weights"),
    ("key not a string", SEED, {1: 1}, "weights"),
]


@pytest.mark.parametrize(("case", "seed", "weights", "field"), REFUSED, ids=[case for case, *_ in REFUSED])
def test_it_refuses_a_bad_draw_naming_the_field(case, seed, weights, field):
    with pytest.raises(AllocationError) as raised:
        draw_winner(seed, weights)
    assert raised.value.field == field


def test_it_refuses_to_commit_to_a_malformed_seed():
    with pytest.raises(AllocationError) as raised:
        seed_commitment("hello")
    assert raised.value.field == "seed"


def test_it_excludes_zero_weights_of_any_type():
    transcript = draw_transcript(SEED, {"a": "0", "b": 0, "c": 0.0, "d": "0.000001"})
    assert transcript["excluded"] == ["a", "b", "c"]
    assert transcript["winner"] == "d"


def _docs_r(seed: str, entries: list[tuple[str, int]]) -> int:
    """r exactly as docs/prizes.md computes it, with the standard library only."""
    total = sum(units for _, units in entries)
    message = seed + "\n" + "\n".join(f"{key}:{units}" for key, units in entries)
    limit, counter = 2**256 - 2**256 % total, 0
    while True:
        value = int.from_bytes(hashlib.sha256(f"{message}\n{counter}".encode()).digest(), "big")
        if value < limit:
            return value % total
        counter += 1


def test_it_draws_the_next_comment_when_r_equals_a_running_total():
    # Weights of one and two millionths are 1 and 2 units: running totals 1 and 3, so r is 0, 1 or 2. docs/prizes.md:
    # the winner is the first entry whose running total is GREATER than r, so r = 1 (equal to a's total) draws b.
    weights = {"a": "0.000001", "b": "0.000002"}
    seeds = (f"{i:064x}" for i in range(1000))
    seed = next(s for s in seeds if _docs_r(s, [("a", 1), ("b", 2)]) == 1)
    transcript = draw_transcript(seed, weights)
    assert (transcript["r"], transcript["total"]) == (1, 3)
    assert transcript["winner"] == "b"


def test_it_draws_the_first_comment_when_r_is_below_its_running_total():
    weights = {"a": "0.000001", "b": "0.000002"}
    seed = next(f"{i:064x}" for i in range(1000) if _docs_r(f"{i:064x}", [("a", 1), ("b", 2)]) == 0)
    assert draw_winner(seed, weights) == "a"
