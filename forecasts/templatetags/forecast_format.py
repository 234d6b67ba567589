from django import template
from django.utils.safestring import mark_safe

from forecasts.markup import render_markdown

register = template.Library()


@register.filter
def num(value):
    """Three significant figures for a summary value; ISO dates and None ("beyond the range") pass through."""
    if value is None:
        return "beyond range"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return f"{value:.3g}"


# Below this a skill is "the same as the prior": the scoring engine reports any skill within 1e-12 nats as exactly 0.
SKILL_NOISE = 1e-12


@register.filter
def skill_reading(value):
    """A skill over the prior (nats) in words: which side of the prior the prediction landed, not just its sign."""
    if value is None:
        return ""
    if value > SKILL_NOISE:
        return "better than the prior"
    if value < -SKILL_NOISE:
        return "worse than the prior"
    return "same as the prior"


@register.filter
def markdown(text):
    """An evidence body as sanitised HTML (forecasts.markup: markdown-it-py, then nh3's allow-list)."""
    return mark_safe(render_markdown(text))  # nh3 has just sanitised it
