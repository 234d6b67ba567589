"""Server-rendered pages: the list of questions and one question with its distributions drawn as inline SVG."""

from __future__ import annotations

import numpy as np
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from amplification.grid import U_GRID

from . import selectors, services
from .models import Status

PLOT_W, PLOT_H, PAD = 640, 220, 40
SERIES = (("prior", "#888888"), ("aggregate", "#1f77b4"), ("posterior", "#d62728"))


def _density_path(cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin densities on the question's axis (u), one per grid interval, for a step plot."""
    return U_GRID, np.diff(cdf) * (len(cdf) - 1)


def distribution_svg(question, series: dict) -> str:
    """Overlay the densities of the given stored distributions; tail masses are written beside the axis."""
    present = [(name, colour, series[name]) for name, colour in SERIES if series.get(name) is not None]
    if not present:
        return ""
    peak = max(float(_density_path(d.cdf)[1].max()) for _, _, d in present) or 1.0
    paths = []
    for name, colour, dist in present:
        u, dens = _density_path(dist.cdf)
        xs = PAD + u * (PLOT_W - 2 * PAD)
        ys = PLOT_H - PAD - dens / peak * (PLOT_H - 2 * PAD)
        points = " ".join(f"{xs[i]:.1f},{ys[i]:.1f} {xs[i + 1]:.1f},{ys[i]:.1f}" for i in range(len(dens)))
        paths.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{name}</title></polyline>"
        )
    domain = question.domain
    ticks = []
    for u in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = PAD + u * (PLOT_W - 2 * PAD)
        value = domain.format_x(float(domain.from_u(u)))
        label = value if isinstance(value, str) else f"{value:.3g}"
        ticks.append(f'<text x="{x:.0f}" y="{PLOT_H - 8}" font-size="11" text-anchor="middle">{label}</text>')
    legend = []
    for i, (name, colour, dist) in enumerate(present):
        legend.append(
            f'<text x="{PAD + 4}" y="{16 + 14 * i}" font-size="12" fill="{colour}">{name}: '
            f"{dist.mass_below:.1%} below, {dist.mass_above:.1%} above</text>"
        )
    svg = (
        f'<svg role="img" aria-label="distributions" viewBox="0 0 {PLOT_W} {PLOT_H}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><line x1="{PAD}" y1="{PLOT_H - PAD}" x2="{PLOT_W - PAD}" '
        f'y2="{PLOT_H - PAD}" stroke="#333"/>{"".join(paths)}{"".join(ticks)}{"".join(legend)}</svg>'
    )
    # Built only from numbers, formatted dates and fixed names, never from user text: safe to inline.
    return mark_safe(svg)


def question_list(request):
    questions = selectors.questions_visible(request.user)[:200]
    return render(request, "forecasts/question_list.html", {"questions": questions})


def question_detail(request, pk: int):
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    question = services.question_refresh_status(question)
    prior = getattr(question, "prior", None)
    posterior = getattr(question, "posterior", None)
    aggregate = getattr(question, "aggregate", None)
    if question.status in (Status.DRAFT, Status.OPEN) and not services.is_organizer(request.user):
        aggregate = None
    context = {
        "question": question,
        "lower": question.domain.format_x(question.lower),
        "upper": question.domain.format_x(question.upper),
        "prior": prior,
        "posterior": posterior,
        "aggregate": aggregate,
        "plot": distribution_svg(question, {"prior": prior, "posterior": posterior, "aggregate": aggregate}),
        "evidence": selectors.evidence_list(question),
        "scores": selectors.scores_list(question)[:100] if question.status in (Status.SCORED, Status.AWARDED) else [],
        "allocation": question.allocations.filter(state="awarded").prefetch_related("payouts__user").first(),
    }
    return render(request, "forecasts/question_detail.html", context)
