from django import template

register = template.Library()


@register.filter
def num(value):
    """Three significant figures for a summary value; ISO dates and None ("beyond the range") pass through."""
    if value is None:
        return "beyond range"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return f"{value:.3g}"
