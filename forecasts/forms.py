"""Web forms: a distribution typed as three quantiles (what most people can say quickly), and evidence.

The forms only turn fields into a spec; the services validate the spec and every rule, exactly as for the API.
"""

from __future__ import annotations

from django import forms

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

    def __init__(self, *args, question: Question, **kwargs):
        super().__init__(*args, **kwargs)
        self.question = question
        if not question.open_lower:
            del self.fields["mass_below"]
        if not question.open_upper:
            del self.fields["mass_above"]
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


class EvidenceForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000)
    sources = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="One link per line")

    def clean_sources(self) -> list[str]:
        validator = forms.URLField(assume_scheme="https")
        links = [line.strip() for line in self.cleaned_data["sources"].splitlines() if line.strip()]
        return [validator.clean(link) for link in links]


class QuestionForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    unit = forms.CharField(required=False, max_length=100)
    scale = forms.ChoiceField(choices=Scale.choices)
    lower = forms.CharField(max_length=40, help_text="a number, or YYYY-MM-DD on a date question")
    upper = forms.CharField(max_length=40)
    open_lower = forms.BooleanField(required=False, label="Mass may lie below the range")
    open_upper = forms.BooleanField(required=False, label="Mass may lie above the range")
    closes_at = forms.DateTimeField(help_text="YYYY-MM-DD HH:MM, UTC",
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def bound(self, name: str) -> float | str:
        return question_value(self.cleaned_data[name], self.cleaned_data["scale"])
