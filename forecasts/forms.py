"""Web forms: a distribution typed as three quantiles (what most people can say quickly), and evidence.

The forms only turn fields into a spec; the services validate the spec and every rule, exactly as for the API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import forms

from amplification.allocation import ACCURACY_RULES, EVIDENCE_RULES

from . import limits
from .limits import holds_lone_surrogates
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


MAX_SPEC_JSON = 200_000  # characters; a 1,000-bin histogram is ~60 KB, and the request body limit applies anyway


def show_number(x: float, digits: int | None = 6) -> str:
    """A number as a person would type it back (`1e9` rather than `1e+09` or 1000000000.0), to `digits` significant
    figures, or (None) in the fewest that give back exactly `x`."""
    for n in range(1, 18) if digits is None else (digits,):
        text = f"{x:.{n}g}"
        if digits is not None or float(text) == x:
            break
    mantissa, sep, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if sep else text


def _show(x, digits: int | None = 6) -> str:
    return show_number(x, digits) if isinstance(x, int | float) and not isinstance(x, bool) else str(x)


class DistributionForm(forms.Form):
    """p5, median and p95 (numbers, or ISO dates on a date question) plus the masses beyond open bounds; or, from the
    page's editor (static/js/editor.js), the whole spec as JSON in `spec_json`.

    Every p is the total probability P(X <= x), the mass beyond the range included (DESIGN.md), so a percentile that
    falls beyond an open bound is left empty; at least two are needed.
    """

    p5 = forms.CharField(label="5th percentile", max_length=40, required=False)
    p50 = forms.CharField(label="Median", max_length=40, required=False)
    p95 = forms.CharField(label="95th percentile", max_length=40, required=False)
    mass_below = forms.FloatField(label="Probability below the range", required=False, min_value=0, max_value=1)
    mass_above = forms.FloatField(label="Probability above the range", required=False, min_value=0, max_value=1)
    # The editor's spec, built in the browser and previewed through the API before it is sent; empty without
    # JavaScript. When given, it is the spec (the quick fields are kept for display only), and the services
    # validate it exactly as they validate the quick fields' spec.
    spec_json = forms.CharField(required=False, widget=forms.HiddenInput, max_length=MAX_SPEC_JSON)

    def __init__(self, *args, question: Question, tails: tuple[str, str] | None = None, **kwargs):
        """`tails` names the mass beyond each bound in the question's terms (pages.tail_labels), as the table does."""
        super().__init__(*args, **kwargs)
        self.question = question
        # The quick field behind each point of the spec, in order (pages maps the engine's `points[i]` back to it).
        self.point_fields: list[str] = []
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
        for name, p in QUANTILES:
            # Said beside each field (the help text is tied to the input for screen readers too).
            self.fields[name].help_text = f"P(X ≤ x) = {p}, tails included"
        self.fields["p50"].help_text += "; leave a percentile empty when it lies beyond the range"
        if self.is_bound and self.data.get(self.add_prefix("spec_json"), "").strip():
            # The editor's spec is what is saved: the quick fields are shown again as typed but not read, so a stale
            # or half-typed value there cannot refuse the spec the person previewed.
            for name in [*dict(QUANTILES), "mass_below", "mass_above"]:
                if name in self.fields:
                    field = self.fields[name]
                    self.fields[name] = forms.CharField(required=False, label=field.label, widget=field.widget,
                                                        help_text=field.help_text)

    def clean(self):
        data = super().clean()
        raw = (data.get("spec_json") or "").strip()
        if raw:
            try:
                spec = json.loads(raw)
            except (ValueError, RecursionError):  # RecursionError: nested past the interpreter's limit
                spec = None
            if not isinstance(spec, dict) or holds_lone_surrogates(spec):
                raise forms.ValidationError("the editor sent a spec that is not a JSON object; reload the page")
            data["spec"] = spec
        elif sum(bool((data.get(name) or "").strip()) for name, _ in QUANTILES) < 2:
            raise forms.ValidationError("give at least two of the 5th percentile, the median and the 95th percentile")
        return data

    def spec(self) -> dict:
        """The spec to store: the editor's, or the quick fields' quantiles (p is total probability, as typed)."""
        data = self.cleaned_data
        if "spec" in data:
            return data["spec"]
        points = []
        self.point_fields = []
        for name, p in QUANTILES:
            raw = (data.get(name) or "").strip()
            if raw:
                points.append({"p": p, "x": question_value(raw, self.question.scale)})
                self.point_fields.append(name)
        spec: dict = {"type": "quantiles", "points": points}
        for name in ("mass_below", "mass_above"):
            if data.get(name) is not None:
                spec[name] = data[name]
        return spec


def quick_initial(dist, question: Question) -> dict:
    """Quick-field values that say what a stored distribution says: the points as typed when it was typed as these
    percentiles, otherwise its summary's p5, median and p95 and its tail masses (total probability, as the fields)."""
    spec = dist.spec if isinstance(dist.spec, dict) else {}
    by_p = {p: name for name, p in QUANTILES}
    points = spec.get("points") if spec.get("type") == "quantiles" else None
    if isinstance(points, list) and points and all(isinstance(pt, dict) and pt.get("p") in by_p for pt in points):
        # What was typed, every digit of it.
        initial = {by_p[pt["p"]]: _show(pt.get("x"), None) for pt in points}
        initial.update({key: spec[key] for key in ("mass_below", "mass_above") if key in spec})
        return initial
    initial = {name: _show(dist.summary[key]) for name, key in (("p5", "p5"), ("p50", "median"), ("p95", "p95"))
               if dist.summary.get(key) is not None}
    if question.open_lower:
        initial["mass_below"] = round(dist.mass_below, 4)
    if question.open_upper:
        initial["mass_above"] = round(dist.mass_above, 4)
    return initial


class InfluenceForm(forms.Form):
    """The posterior's influence weights: one weight (and an optional note) per comment the expert did not write."""

    # The fields are drawn inside each evidence item on the page, away from the posterior's <form>, and belong to it
    # through the HTML form= attribute: the expert types a weight beside the comment it weighs, and one submit posts
    # the posterior with every weight, with or without JavaScript.
    FORM_ID = "posterior-form"

    def __init__(self, *args, evidence, expert_id: int, note_max_length: int, author_name=None, **kwargs):
        """`author_name(evidence)` labels each comment's author as the expert may see it (a pseudonym when blind)."""
        super().__init__(*args, **kwargs)
        owner = {"form": self.FORM_ID}
        self.evidence_ids: list[int] = []
        for e in evidence:
            if e.author_id == expert_id:
                continue
            self.evidence_ids.append(e.pk)
            name = author_name(e) if author_name else e.author.username
            self.fields[f"influence-{e.pk}"] = forms.FloatField(
                label=f"Weight for #{e.pk} ({name})", required=False, min_value=0,
                widget=forms.NumberInput(attrs={"step": "any", "placeholder": "0", "min": "0", **owner}))
            self.fields[f"note-{e.pk}"] = forms.CharField(
                label=f"Why #{e.pk} moved you (optional)", required=False, max_length=note_max_length,
                widget=forms.TextInput(attrs=owner))

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
    # Set by the reply box under an evidence item: the item this one answers (the service checks it is this
    # question's).
    parent = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

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
    # A plain text box showing and taking exactly what its help says: a browser's datetime-local picker shows the
    # value in the reader's locale ("12/07/2026, 11:00 AM") while the server reads it as UTC (pages.question_new).
    # The ISO "T" form is accepted too, for clients that send it.
    closes_at = forms.DateTimeField(
        label="Closes at (UTC)", help_text="Date and time in UTC, not your local time: YYYY-MM-DD HH:MM",
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"placeholder": "YYYY-MM-DD HH:MM", "inputmode": "numeric",
                                          "pattern": r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?"},
                                   format="%Y-%m-%d %H:%M"),
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
