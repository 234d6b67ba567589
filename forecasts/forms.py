"""Web forms: a distribution typed as three quantiles (what most people can say quickly), and evidence.

The forms only turn fields into a spec; the services validate the spec and every rule, exactly as for the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import forms

from amplification.allocation import ACCURACY_RULES, EVIDENCE_RULES

from . import limits
from .models import Question, Scale

QUANTILES = (("p5", 0.05), ("p50", 0.5), ("p95", 0.95))


def question_value(raw: str, scale: str) -> float | str:
    """What a person typed for a value on the question's axis: a number, or an ISO date kept as text on a date
    question. Text that is not a number is passed on as typed, so the engine names the field and the rule."""
    raw = raw.strip()
    if scale == Scale.DATE:
        return raw
    try:
        return float(raw)
    except ValueError:
        return raw


class DistributionForm(forms.Form):
    """p5, median and p95 (numbers, or ISO dates on a date question) plus the masses beyond open bounds."""

    p5 = forms.CharField(label="5th percentile", max_length=40)
    p50 = forms.CharField(label="Median", max_length=40)
    p95 = forms.CharField(label="95th percentile", max_length=40)
    mass_below = forms.FloatField(label="Probability below the range", required=False, min_value=0, max_value=1)
    mass_above = forms.FloatField(label="Probability above the range", required=False, min_value=0, max_value=1)

    def __init__(self, *args, question: Question, tails: tuple[str, str] | None = None, **kwargs):
        """`tails` names the mass beyond each bound in the question's terms (pages.tail_labels), as the table does."""
        super().__init__(*args, **kwargs)
        self.question = question
        if not question.open_lower:
            del self.fields["mass_below"]
        if not question.open_upper:
            del self.fields["mass_above"]
        for name, label in zip(("mass_below", "mass_above"), tails or (), strict=False):
            if name in self.fields:
                self.fields[name].label = f"Probability ({label})"
                self.fields[name].help_text = "0 to 1; leave empty to let the fitted shape decide"
        placeholder = "YYYY-MM-DD" if question.scale == Scale.DATE else "a number"
        for name, _ in QUANTILES:
            self.fields[name].widget.attrs["placeholder"] = placeholder

    def spec(self) -> dict:
        """The quantiles spec; p is total probability, so it is shifted by the mass below when one is given."""
        data = self.cleaned_data
        below = data.get("mass_below") or 0.0
        above = data.get("mass_above") or 0.0
        inside = 1.0 - below - above
        points = []
        for name, p in QUANTILES:
            points.append({"p": below + p * inside, "x": question_value(data[name], self.question.scale)})
        spec: dict = {"type": "quantiles", "points": points}
        if data.get("mass_below") is not None:
            spec["mass_below"] = below
        if data.get("mass_above") is not None:
            spec["mass_above"] = above
        return spec


class InfluenceForm(forms.Form):
    """The posterior's influence weights: one weight (and an optional note) per comment the expert did not write."""

    def __init__(self, *args, evidence, expert_id: int, note_max_length: int, author_name=None, **kwargs):
        """`author_name(evidence)` labels each comment's author as the expert may see it (a pseudonym when blind)."""
        super().__init__(*args, **kwargs)
        self.evidence_ids: list[int] = []
        for e in evidence:
            if e.author_id == expert_id:
                continue
            self.evidence_ids.append(e.pk)
            name = author_name(e) if author_name else e.author.username
            self.fields[f"influence-{e.pk}"] = forms.FloatField(
                label=f"Weight for #{e.pk} ({name})", required=False, min_value=0,
                widget=forms.NumberInput(attrs={"step": "any", "placeholder": "0"}))
            self.fields[f"note-{e.pk}"] = forms.CharField(
                label=f"Why #{e.pk} moved you (optional)", required=False, max_length=note_max_length)

    def influence(self) -> tuple[list[dict], list[int]]:
        """The service's `influence` list (empty weights left out) and, for each entry, the evidence id it is for."""
        items = []
        for evidence_id in self.evidence_ids:
            weight = self.cleaned_data.get(f"influence-{evidence_id}")
            if weight is None:
                continue
            item = {"evidence": evidence_id, "weight": weight}
            if note := self.cleaned_data.get(f"note-{evidence_id}", "").strip():
                item["note"] = note
            items.append(item)
        return items, [item["evidence"] for item in items]


class EvidenceForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=limits.MAX_EVIDENCE_BODY)
    sources = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="One link per line")

    def clean_sources(self) -> list[str]:
        validator = forms.URLField(assume_scheme="https")
        links = [line.strip() for line in self.cleaned_data["sources"].splitlines() if line.strip()]
        return [validator.clean(link) for link in links]


class QuestionForm(forms.Form):
    title = forms.CharField(max_length=limits.MAX_TITLE)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    unit = forms.CharField(required=False, max_length=100)
    scale = forms.ChoiceField(choices=Scale.choices)
    lower = forms.CharField(max_length=40, help_text="a number, or YYYY-MM-DD on a date question")
    upper = forms.CharField(max_length=40)
    open_lower = forms.BooleanField(required=False, label="Mass may lie below the range")
    open_upper = forms.BooleanField(required=False, label="Mass may lie above the range")
    blind = forms.BooleanField(required=False, initial=True, label="Weigh evidence blind", help_text=(
        "you see comments under pseudonyms (Commenter A, B, ...) until you publish your posterior"))
    # A datetime-local input shows no zone; the server reads the value as UTC (pages.question_new), so it says so.
    closes_at = forms.DateTimeField(
        label="Closes at (UTC)", help_text="Date and time in UTC, not your local time: YYYY-MM-DD HH:MM",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        initial=lambda: (datetime.now(UTC) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0,
                                                                          tzinfo=None))

    def bound(self, name: str) -> float | str:
        return question_value(self.cleaned_data[name], self.cleaned_data["scale"])




class SignupForm(forms.Form):
    """The fields POST /api/auth/register/ takes; services.user_register checks the rest (name taken, password)."""

    username = forms.RegexField(limits.USERNAME_PATTERN, max_length=limits.MAX_USERNAME,
                               error_messages={"invalid": limits.USERNAME_RULE},
                                help_text="Letters, digits and @/./+/-/_")
    password = forms.CharField(max_length=limits.MAX_PASSWORD, strip=False, widget=forms.PasswordInput(attrs={
        "autocomplete": "new-password"}))
    password_again = forms.CharField(label="Password again", max_length=limits.MAX_PASSWORD, strip=False,
                                     widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    email = forms.EmailField(required=False, max_length=limits.MAX_EMAIL,
                             help_text="optional: for notifications, password resets and prize payouts")

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") is not None \
                and data["password"] != data["password_again"]:
            self.add_error("password_again", "the two passwords differ")
        return data


class PrizeForm(forms.Form):
    """A draft allocation of a scored question's two pools (organizers); forecasts.prizes.prizes_draft checks it."""

    accuracy_pool = forms.CharField(max_length=20, initial="50.00", help_text="e.g. 50.00")
    evidence_pool = forms.CharField(max_length=20, initial="50.00", help_text="e.g. 50.00")
    accuracy_rule = forms.ChoiceField(choices=[(r, r.replace("_", " ")) for r in ACCURACY_RULES])
    evidence_rule = forms.ChoiceField(choices=[(r, r) for r in EVIDENCE_RULES])
    shares = forms.CharField(required=False, max_length=20_000,
                             help_text="top k only: the fractions for ranks 1, 2, ..., e.g. 0.5, 0.3, 0.2")
    power = forms.FloatField(initial=1.0, help_text="proportional skill only: skill is raised to this power")
    min_payout = forms.CharField(max_length=20, initial="0", label="Minimum payout")
    currency = forms.CharField(required=False, max_length=3, help_text="3 letters; empty for the platform's")

    def clean_shares(self) -> list[Decimal] | None:
        parts = [part.strip() for part in self.cleaned_data["shares"].replace(";", ",").split(",") if part.strip()]
        try:
            return [Decimal(part) for part in parts] or None
        except InvalidOperation:
            raise forms.ValidationError("must be fractions separated by commas, e.g. 0.5, 0.3, 0.2") from None


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=limits.MAX_EMAIL)
