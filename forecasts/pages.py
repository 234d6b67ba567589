"""Server-rendered pages: the list of questions and one question with its distributions drawn as inline SVG."""

from __future__ import annotations

import re
from datetime import UTC

import numpy as np
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from amplification.grid import U_GRID

from . import limits, permissions, prizes, records, selectors, services
from .addresses import client_address
from .arrival import arrival_of
from .errors import NotFound, ServiceError
from .forms import (
    QUANTILES,
    DistributionForm,
    EvidenceForm,
    InfluenceForm,
    PrizeForm,
    QuestionForm,
    SignupForm,
)
from .models import Endorsement, Evidence, PrizeAllocation, Status
from .question_cache import cached_view, store_view
from .throttles import signup_throttled

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
    # The datetime-local field holds no zone and says "(UTC)": read it as UTC whatever zone is active.
    with timezone.override(UTC):
        valid = request.method == "POST" and form.is_valid()
    if valid:
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


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, and then every API token of the user is deleted: whoever held one must sign in
    with the new password. The session stays signed in (Django keeps it valid for the one who changed it)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        services.user_tokens_revoke(user=form.user, reason="password change")
        return response


@signup_throttled
def signup(request):
    """Create an account with the rules and messages of POST /api/auth/register/, then sign the new user in."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = "/"
    if request.user.is_authenticated:
        return redirect(next_url)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(username=form.cleaned_data["username"],
                                          password=form.cleaned_data["password"], address=client_address(request))
        except ServiceError as exc:
            for field, problem in _service_problems(exc):
                form.add_error(field if field in form.fields else None, problem)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}: your account is ready and you are signed in.")
            return redirect(next_url)
    return render(request, "registration/signup.html", {"form": form, "next": next_url},
                  status=400 if form.errors else 200)


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
    tails = tail_labels(question)
    if permissions.can_set_prior(user, question):
        forms["prior_form"] = DistributionForm(question=question, tails=tails, prefix="prior")
    if permissions.can_post_evidence(user, question):
        forms["evidence_form"] = EvidenceForm(prefix="evidence")
    if permissions.can_predict(user, question):
        forms["prediction_form"] = DistributionForm(question=question, tails=tails, prefix="prediction")
    if permissions.can_publish_posterior(user, question):
        forms["posterior_form"] = DistributionForm(question=question, tails=tails, prefix="posterior")
        forms["influence_form"] = _influence_form(question, user)
    has_prior = getattr(question, "prior", None) is not None
    forms["can_open"] = permissions.can_open(user, question) and has_prior
    forms["needs_prior"] = permissions.can_open(user, question) and not has_prior
    forms["can_close"] = permissions.can_close(user, question)
    if permissions.can_draft_prizes(user, question):
        forms["prize_form"] = PrizeForm(prefix="prizes")
        forms["drafts"] = list(selectors.allocations_visible(question, user).filter(state=PrizeAllocation.State.DRAFT))
    return forms


def _influence_form(question, user, data=None) -> InfluenceForm:
    names = selectors.author_names(question, user)
    return InfluenceForm(data, evidence=selectors.evidence_list(question), expert_id=question.expert_id,
                         note_max_length=limits.MAX_INFLUENCE_NOTE,
                         author_name=lambda e: selectors.shown_author(e, names))


def _parse_id(raw: str) -> int | None:
    """The id a form field holds, or None when it is not a plain decimal id that fits the database's 64 bits."""
    value = int(raw) if _ID.fullmatch(raw) else None
    return value if value is not None and value < 2**63 else None


# A rule the engine broke, as "<path>: <rule>" (amplification.errors.SpecError) inside the service's "spec" field.
_SPEC_PATH = re.compile(r"(?P<path>[A-Za-z_][\w\[\].]*): (?P<rule>.*)", re.S)
_POINT = re.compile(r"points\[(?P<i>[0-9]+)\]\.(?P<part>[px])")
_INFLUENCE = re.compile(r"influence\[(?P<i>[0-9]+)\]\.(?P<part>\w+)")
# The one API word in a service message a page user can meet; the page has its own way to set a prior.
_API_WORDS = (("(PUT /api/questions/{id}/prior/)", "(the prior form on this page)"),
              ("; POST /api/questions/{id}/prizes/ first", "; draft one first"))


def _spec_field(form: DistributionForm, path: str) -> str | None:
    """The form field that holds what the engine's spec path names, or None for the form as a whole."""
    point = _POINT.fullmatch(path)
    if point:
        i = int(point["i"])
        if point["part"] == "x" and i < len(QUANTILES):
            return QUANTILES[i][0]  # the i-th point is the i-th quantile field, in the form's order
        # A point's p is built from the probabilities beyond the range: those are the fields that set it.
        return next((name for name in ("mass_below", "mass_above") if name in form.fields), None)
    return path if path in ("mass_below", "mass_above") and path in form.fields else None


def _service_problems(exc: ServiceError):
    """(field, message) for each rule a service reports broken (`detail` maps a field to a message or a list)."""
    for key, problems in exc.detail.items():
        for problem in problems if isinstance(problems, list) else [problems]:
            yield key, str(problem)


def _add_service_errors(exc: ServiceError, form, *, influence_form: InfluenceForm | None = None,
                        influence_ids: list[int] = ()) -> None:
    """Put a service's errors next to the fields the person typed them in, in the rule's own words."""
    for key, problem in _service_problems(exc):
        for api, page in _API_WORDS:
            problem = problem.replace(api, page)
        target, field = form, None
        if key == "spec" and isinstance(form, DistributionForm):
            match = _SPEC_PATH.fullmatch(problem)
            if match:
                field, problem = _spec_field(form, match["path"]), match["rule"]
        elif (match := _INFLUENCE.fullmatch(key)) and influence_form is not None:
            i = int(match["i"])
            if i < len(influence_ids):
                name = "note" if match["part"] == "note" else "influence"
                target, field = influence_form, f"{name}-{influence_ids[i]}"
        elif key in form.fields:
            field = key
        if field is not None and field not in target.fields:
            field = None
        target.add_error(field, problem)


def _error_summary(*forms) -> str:
    """The errors of the bound forms, each under the label the person sees."""
    parts = []
    for form in forms:
        if form is None:
            continue
        for name, errors in form.errors.items():
            label = form[name].label if name in form.fields else None
            for error in errors:
                parts.append(f"{label}: {error}" if label else str(error))
    return "; ".join(parts)


FORM_ACTIONS = {
    # action: (what the flash names, the context key of its form)
    "prior": ("Your prior", "prior_form"),
    "prediction": ("Your prediction", "prediction_form"),
    "evidence": ("Your evidence", "evidence_form"),
    "posterior": ("Your posterior", "posterior_form"),
    "prizes": ("The prize draft", "prize_form"),
}


def fit_warnings(dist) -> list[str]:
    """What a stored distribution's quantile fit says when it is poor: the engine's notes, then each point the fit
    misses, so the person sees how far the saved shape is from what they typed."""
    if dist is None:
        return []
    warnings = [str(note) for note in (dist.notes or [])]
    fit = dist.fit or {}
    if fit and not fit.get("good", True):
        def show(x):
            return f"{x:.3g}" if isinstance(x, int | float) else str(x)

        misses = [f"you gave {show(r['x'])} at {r['p']:.1%}, the fitted {fit.get('family', 'shape')} puts "
                  f"{r['fitted_p']:.1%} there" for r in fit.get("residuals", [])]
        if misses:
            warnings.append("; ".join(misses))
    return warnings


def _saved(request, done: str, dist) -> None:
    """The flash after a distribution is stored: `done` ("Prior saved."), with the fit's warnings when it is poor."""
    warnings = fit_warnings(dist)
    if warnings:
        messages.warning(request, f"{done} Check it: " + "; ".join(warnings)
                         + ". The page shows the distribution as saved; submit again to change it.")
    else:
        messages.success(request, done)


@login_required
@require_POST
def question_act(request, pk: int, action: str):
    """Handle one form on the question page. Success: back to the page with a message (redirect after post).
    A form refused: the page again with what was typed and each error next to its field (400; 403/409 when the role
    or the question's status refused it)."""
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    user = request.user
    tails = tail_labels(question)
    if action in FORM_ACTIONS:
        if action == "evidence":
            form = EvidenceForm(request.POST, prefix="evidence")
        elif action == "prizes":
            form = PrizeForm(request.POST, prefix="prizes")
        else:
            form = DistributionForm(request.POST, question=question, tails=tails, prefix=action)
        influence_form = _influence_form(question, user, request.POST) if action == "posterior" else None
        influence_ids: list[int] = []
        status = 400
        valid = form.is_valid()
        valid = (influence_form.is_valid() if influence_form is not None else True) and valid
        if valid:
            try:
                if action == "prior":
                    prior = services.prior_set(question=question, user=user, spec=form.spec())
                    _saved(request, "Prior saved.", prior)
                elif action == "prediction":
                    prediction = services.prediction_submit(question=question, author=user, spec=form.spec(),
                                                              arrived_at=arrival_of(request))
                    _saved(request, "Your predicted posterior is saved; your newest one is the one scored.",
                           prediction)
                elif action == "evidence":
                    services.evidence_post(question=question, author=user, body=form.cleaned_data["body"],
                                           sources=form.cleaned_data["sources"], arrived_at=arrival_of(request))
                    messages.success(request, "Evidence posted.")
                elif action == "prizes":
                    draft = prizes.prizes_draft(question=question, user=user, **form.cleaned_data)
                    messages.success(request, f"Draft allocation #{draft.pk} computed: check it below, then award it.")
                else:
                    influence, influence_ids = influence_form.influence()
                    posterior = services.posterior_publish(question=question, user=user, spec=form.spec(),
                                                           influence=influence)
                    _saved(request, "Posterior published; scoring has started.", posterior)
            except ServiceError as exc:
                status = exc.status_code  # 400 for bad input; 403 or 409 when the role or the status refused it
                _add_service_errors(exc, form, influence_form=influence_form, influence_ids=influence_ids)
            else:
                return redirect("forecasts:question-detail", pk=question.pk)
        what, key = FORM_ACTIONS[action]
        messages.error(request, f"{what} was not saved: {_error_summary(form, influence_form)}")
        question = get_object_or_404(selectors.questions_visible(user), pk=pk)  # as it is now, e.g. closed meanwhile
        bound = {key: form}
        if influence_form is not None:
            bound["influence_form"] = influence_form
        return _render_detail(request, question, bound=bound, status=status)
    try:
        if action == "open":
            services.question_open(question=question, user=user)
            messages.success(request, "The question is open for evidence and predictions.")
        elif action == "close":
            services.question_close(question=question, user=user)
            messages.success(request, "The question is closed.")
        elif action == "endorse":
            raw = request.POST.get("evidence", "")
            evidence_id = _parse_id(raw)
            evidence = (Evidence.objects.filter(pk=evidence_id, question=question).first()
                        if evidence_id is not None else None)
            if evidence is None:
                raise ServiceError({"evidence": [f"no evidence {raw!r} on this question"]})
            services.evidence_endorse(evidence=evidence, user=user, arrived_at=arrival_of(request))
            messages.success(request, f"Noted: evidence #{evidence.pk} changed your mind.")
        elif action == "outcome":
            services.outcome_record(question=question, user=user, value=_outcome_value(request.POST.get("value", "")))
            messages.success(request, "Outcome recorded; the forecasts are scored against it.")
        elif action == "award":
            raw = request.POST.get("allocation", "")
            allocation_id = _parse_id(raw)
            if allocation_id is None:
                raise ServiceError({"allocation": [f"no draft allocation {raw!r} on this question"]})
            prizes.prizes_award(question=question, user=user, allocation_id=allocation_id)
            messages.success(request, f"Allocation #{allocation_id} awarded; the draw seed is now public.")
        else:
            raise ServiceError({"action": [f"unknown action {action!r}"]})
    except ServiceError as exc:
        for field, problems in exc.detail.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                problem = str(problem)
                for api, page in _API_WORDS:
                    problem = problem.replace(api, page)
                messages.error(request, f"{field}: {problem}" if field != "detail" else problem)
    return redirect("forecasts:question-detail", pk=question.pk)


def _outcome_value(raw: str):
    """What the outcome box holds, as the API would get it: a number when it reads as one, else the text (an ISO
    date, below, above, annulled); the service says which kinds this question takes."""
    text = raw.strip()
    try:
        return float(text)
    except ValueError:
        return text


def question_detail(request, pk: int):
    # An anonymous reader with no session and no pending messages sees what every such reader sees: that page is
    # cached (forecasts/question_cache.py), replaced on every write to the question. Signed-in users' pages are not.
    shared = (not request.user.is_authenticated and not request.GET
              and settings.SESSION_COOKIE_NAME not in request.COOKIES and "messages" not in request.COOKIES)
    if shared:
        key, hit = cached_view(pk, "page")
        if hit is not None and not services.question_due_to_close(hit["status"], hit["closes_at"]):
            return HttpResponse(hit["html"])
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    response = _render_detail(request, question)
    # A page carrying a CSRF token or a cookie is this reader's own; never share it.
    if (shared and response.status_code == 200 and question.status != Status.DRAFT and not response.cookies
            and b"csrfmiddlewaretoken" not in response.content):
        store_view(key, {"html": response.content.decode(), "status": question.status,
                         "closes_at": question.closes_at})
    return response


def _render_detail(request, question, *, bound: dict | None = None, status: int = 200):
    """The question page. `bound` holds forms refused on this request: each replaces the blank form of its kind
    when this user may still use that form; when the question moved on meanwhile, only the message says why."""
    question = services.question_refresh_status(question)
    prior = getattr(question, "prior", None)
    posterior = getattr(question, "posterior", None)
    aggregate = getattr(question, "aggregate", None) if permissions.crowd_visible(question, request.user) else None
    my_prediction = (question.predictions.filter(author=request.user, is_current=True).first()
                     if request.user.is_authenticated else None)
    forms = _forms_for(request, question)
    for key, form in (bound or {}).items():
        if key in forms:
            forms[key] = form
    evidence = list(selectors.evidence_list(question))
    if request.user.is_authenticated:
        mine = set(Endorsement.objects.filter(user=request.user, evidence__question=question)
                   .values_list("evidence_id", flat=True))
    else:
        mine = set()
    influences = ({i.evidence_id: i for i in question.influences.all()} if posterior is not None else {})
    total_weight = sum(i.weight for i in influences.values())
    names = selectors.author_names(question, request.user)  # pseudonyms for an expert weighing blind
    for e in evidence:
        e.shown_author = selectors.shown_author(e, names)
        e.endorsed_by_me = e.pk in mine
        e.influence = influences.get(e.pk)
        e.influence_share = (f"{e.influence.weight / total_weight:.0%}" if e.influence and total_weight > 0
                             else None)
    context = {
        "question": question,
        "lower": question.domain.format_x(question.lower),
        "upper": question.domain.format_x(question.upper),
        "tail_labels": tail_labels(question),
        "any_open_side": question.open_lower or question.open_upper,
        "prior": prior,
        "posterior": posterior,
        "aggregate": aggregate,
        "prior_warnings": fit_warnings(prior),
        "posterior_warnings": fit_warnings(posterior),
        "my_prediction_warnings": fit_warnings(my_prediction),
        "plot": distribution_svg(question, {"prior": prior, "posterior": posterior, "aggregate": aggregate,
                                            "yours": my_prediction}),
        "evidence": evidence,
        "influence_shown": posterior is not None,
        "authors_hidden": names is not None,
        "log_visible": permissions.log_entries_visible(question),
        "scores": selectors.scores_list(question)[:100],
        "allocation": question.allocations.filter(state="awarded").prefetch_related("payouts__user").first(),
        "my_prediction": my_prediction,
        "report": selectors.question_report(question) if permissions.crowd_visible(question, request.user) else None,
        "pools": (selectors.pools_side_by_side(question) if permissions.crowd_visible(question, request.user)
                  else []),
        "can_record_outcome": permissions.can_record_outcome(request.user, question),
        **forms,
    }
    return render(request, "forecasts/question_detail.html", context, status=status)


# The calibration bars' full length, in SVG user units (the largest bin fills it).
CALIBRATION_BAR_WIDTH = 200


def _calibration_rows(counts: list[int]) -> list[dict]:
    """One row per bin of a PIT histogram: its range, count, and bar length (the template draws the bar)."""
    bins = len(counts)
    top = max(counts, default=0)
    return [{"low": i / bins, "high": (i + 1) / bins, "count": c,
             "width": round(CALIBRATION_BAR_WIDTH * c / top) if top else 0} for i, c in enumerate(counts)]


def user_profile(request, username: str):
    """A user's track record, as the viewer may see it (forecasts.records.track_record), and calibration bars."""
    try:
        record = records.track_record(username=username, viewer=request.user)
    except NotFound as exc:
        raise Http404("no such user") from exc
    context = {
        "record": record,
        "bar_width": CALIBRATION_BAR_WIDTH,
        "calibration": [
            {"name": "posterior", "label": "Where the expert's posterior median fell in each prediction",
             "rows": _calibration_rows(record["calibration"]["posterior"])},
            {"name": "outcome", "label": "Where the outcome fell in each prediction",
             "rows": _calibration_rows(record["calibration"]["outcome"])},
        ],
    }
    return render(request, "forecasts/user_profile.html", context)
