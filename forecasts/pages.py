"""Server-rendered pages: the list of questions and one question with its distributions drawn as inline SVG."""

from __future__ import annotations

import re

import numpy as np
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from amplification.grid import U_GRID

from . import selectors, services
from .errors import ServiceError
from .forms import DistributionForm, EvidenceForm, QuestionForm
from .models import Evidence, Status

PLOT_W, PLOT_H, PAD = 640, 220, 40
# An id typed into a form: ASCII digits only (str.isdigit() also accepts "²", which int() refuses), and at most 19 of
# them, enough for any 64-bit id and far from int()'s 4300-digit limit on parsing a string.
_ID = re.compile(r"[0-9]{1,19}")
SERIES = (("prior", "#888888"), ("yours", "#2ca02c"), ("aggregate", "#1f77b4"), ("posterior", "#d62728"))


def _density_path(cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin densities on the question's axis (u), one per grid interval, for a step plot."""
    return U_GRID, np.diff(cdf) * (len(cdf) - 1)


def tail_labels(question) -> tuple[str, str]:
    """What the mass beyond each bound means, in the question's terms (a date question's lower tail is "already")."""
    lower, upper = (question.domain.format_x(x) for x in (question.lower, question.upper))
    if question.scale == "date":
        return "already", f"after {upper} or never"
    fmt = "{:.3g}".format
    return f"below {fmt(lower)}", f"above {fmt(upper)}"


def distribution_svg(question, series: dict) -> str:
    """Overlay the densities of the given stored distributions; tail masses are written in the legend above them."""
    present = [(name, colour, series[name]) for name, colour in SERIES if series.get(name) is not None]
    if not present:
        return ""
    top = 14 * len(present) + 14  # the legend's band: curves are drawn below it
    peak = max(float(_density_path(d.cdf)[1].max()) for _, _, d in present) or 1.0
    paths = []
    for name, colour, dist in present:
        u, dens = _density_path(dist.cdf)
        xs = PAD + u * (PLOT_W - 2 * PAD)
        ys = PLOT_H - PAD - dens / peak * (PLOT_H - PAD - top)
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
    below, above = tail_labels(question)
    for i, (name, colour, dist) in enumerate(present):
        # Tail masses only where a bound is open: a closed side holds nothing by construction.
        tails = [f"{dist.mass_below:.1%} {below}" if question.open_lower else "",
                 f"{dist.mass_above:.1%} {above}" if question.open_upper else ""]
        label = ", ".join(t for t in tails if t)
        legend.append(
            f'<text x="{PAD + 4}" y="{16 + 14 * i}" font-size="12" fill="{colour}">{name}'
            f"{': ' + label if label else ''}</text>"
        )
    svg = (
        f'<svg role="img" aria-label="distributions" viewBox="0 0 {PLOT_W} {PLOT_H}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><line x1="{PAD}" y1="{PLOT_H - PAD}" x2="{PLOT_W - PAD}" '
        f'y2="{PLOT_H - PAD}" stroke="#333"/>{"".join(paths)}{"".join(ticks)}{"".join(legend)}</svg>'
    )
    # Built only from numbers, formatted dates and fixed names, never from user text: safe to inline.
    return mark_safe(svg)


@login_required
def question_new(request):
    form = QuestionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.update(lower=form.bound("lower"), upper=form.bound("upper"))
        try:
            question = services.question_create(created_by=request.user, **data)
        except ServiceError as exc:
            for field, problems in exc.detail.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, "Question created as a draft: give your prior, then open it.")
            return redirect("forecasts:question-detail", pk=question.pk)
    return render(request, "forecasts/question_new.html", {"form": form})


def question_list(request):
    services.questions_close_due()  # the server's clock decides the status shown, with or without beat
    questions = selectors.questions_visible(request.user)[:200]
    return render(request, "forecasts/question_list.html", {"questions": questions})


def _forms_for(request, question) -> dict:
    """The forms this user may use on this question now; the services still check every rule on submit."""
    user = request.user
    if not user.is_authenticated:
        return {}
    forms: dict = {}
    expert = services.is_expert(user, question)
    if expert and question.status in (Status.DRAFT, Status.OPEN):
        forms["prior_form"] = DistributionForm(question=question, prefix="prior")
    if question.status == Status.OPEN:
        forms["evidence_form"] = EvidenceForm(prefix="evidence")
        if not expert:
            forms["prediction_form"] = DistributionForm(question=question, prefix="prediction")
    if expert and question.status == Status.CLOSED:
        forms["posterior_form"] = DistributionForm(question=question, prefix="posterior")
    forms["can_open"] = question.status == Status.DRAFT and (expert or services.is_organizer(user))
    forms["can_close"] = question.status == Status.OPEN and (expert or services.is_organizer(user))
    return forms


def _parse_id(raw: str) -> int | None:
    """The id a form field holds, or None when it is not a plain decimal id that fits the database's 64 bits."""
    value = int(raw) if _ID.fullmatch(raw) else None
    return value if value is not None and value < 2**63 else None


def _valid(form):
    """The form, validated; its errors go the same way as a service's (to messages on the question page)."""
    if not form.is_valid():
        raise ServiceError({name: list(errors) for name, errors in form.errors.items()})
    return form


def _distribution(request, question, prefix: str):
    return _valid(DistributionForm(request.POST, question=question, prefix=prefix)).spec()


@login_required
@require_POST
def question_act(request, pk: int, action: str):
    """Handle one form on the question page, then return to it with a message saying what happened."""
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    user = request.user
    try:
        if action == "prior":
            services.prior_set(question=question, user=user, spec=_distribution(request, question, "prior"))
            messages.success(request, "Prior saved.")
        elif action == "open":
            services.question_open(question=question, user=user)
            messages.success(request, "The question is open for evidence and predictions.")
        elif action == "close":
            services.question_close(question=question, user=user)
            messages.success(request, "The question is closed.")
        elif action == "evidence":
            form = _valid(EvidenceForm(request.POST, prefix="evidence"))
            services.evidence_post(question=question, author=user, body=form.cleaned_data["body"],
                                   sources=form.cleaned_data["sources"])
            messages.success(request, "Evidence posted.")
        elif action == "prediction":
            services.prediction_submit(question=question, author=user,
                                       spec=_distribution(request, question, "prediction"))
            messages.success(request, "Your predicted posterior is saved; your newest one is the one scored.")
        elif action == "endorse":
            raw = request.POST.get("evidence", "")
            evidence_id = _parse_id(raw)
            evidence = (Evidence.objects.filter(pk=evidence_id, question=question).first()
                        if evidence_id is not None else None)
            if evidence is None:
                raise ServiceError({"evidence": [f"no evidence {raw!r} on this question"]})
            services.evidence_endorse(evidence=evidence, user=user)
            messages.success(request, f"Noted: evidence #{evidence.pk} changed your mind.")
        elif action == "posterior":
            influence = []
            for evidence_id in Evidence.objects.filter(question=question).values_list("pk", flat=True):
                raw = request.POST.get(f"influence-{evidence_id}", "").strip()
                if raw:
                    try:
                        influence.append({"evidence": evidence_id, "weight": float(raw)})
                    except ValueError:
                        raise ServiceError({f"influence #{evidence_id}": ["must be a number >= 0"]}) from None
            services.posterior_publish(question=question, user=user,
                                       spec=_distribution(request, question, "posterior"), influence=influence)
            messages.success(request, "Posterior published; scoring has started.")
        else:
            raise ServiceError({"action": [f"unknown action {action!r}"]})
    except ServiceError as exc:
        for field, problems in exc.detail.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                messages.error(request, f"{field}: {problem}" if field != "detail" else str(problem))
    return redirect("forecasts:question-detail", pk=question.pk)


def question_detail(request, pk: int):
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    question = services.question_refresh_status(question)
    prior = getattr(question, "prior", None)
    posterior = getattr(question, "posterior", None)
    aggregate = getattr(question, "aggregate", None) if selectors.crowd_visible(question, request.user) else None
    my_prediction = (question.predictions.filter(author=request.user, is_current=True).first()
                     if request.user.is_authenticated else None)
    context = {
        "question": question,
        "lower": question.domain.format_x(question.lower),
        "upper": question.domain.format_x(question.upper),
        "tail_labels": tail_labels(question),
        "prior": prior,
        "posterior": posterior,
        "aggregate": aggregate,
        "plot": distribution_svg(question, {"prior": prior, "posterior": posterior, "aggregate": aggregate,
                                            "yours": my_prediction}),
        "evidence": selectors.evidence_list(question),
        "scores": selectors.scores_list(question)[:100],
        "allocation": question.allocations.filter(state="awarded").prefetch_related("payouts__user").first(),
        "my_prediction": my_prediction,
        **_forms_for(request, question),
    }
    return render(request, "forecasts/question_detail.html", context)
