"""Server-rendered pages: the list of questions, and one question with its forms. Distributions are drawn in the
browser by static/js/plot.js from the JSON these pages embed (json_script); the tables beside them say the same in
numbers without JavaScript, and the forms post without it."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from . import limits, notifications, permissions, prizes, records, selectors, services
from .addresses import client_address
from .arrival import arrival_of
from .errors import NotFound, ServiceError
from .forms import (
    DistributionForm,
    EmailForm,
    EvidenceForm,
    InfluenceForm,
    PrizeForm,
    QuestionForm,
    SignupForm,
    quick_initial,
)
from .models import (
    MODE_LABELS,
    NOTIFICATION_LABELS,
    EmailAddress,
    Endorsement,
    Evidence,
    Notification,
    NotificationKind,
    NotificationPreference,
    Prediction,
    PrizeAllocation,
    Status,
)
from .question_cache import cached_view, store_view
from .throttles import signup_throttled

# An id typed into a form: ASCII digits only (str.isdigit() also accepts "²", which int() refuses), and at most 19 of
# them, enough for any 64-bit id and far from int()'s 4300-digit limit on parsing a string.
_ID = re.compile(r"[0-9]{1,19}")
# The stored distributions a question page draws, in drawing order, with the names the plot and its legend give them.
# static/js/plot.js gives each key its colour and dash pattern, the same on every page.
SERIES = (("prior", "Expert's prior"), ("yours", "Your prediction"), ("aggregate", "Crowd (pooled)"),
          ("posterior", "Expert's posterior"))


def tail_labels(question) -> tuple[str, str]:
    """What the mass beyond each bound means, in the question's terms (a date question's lower tail is "already")."""
    lower, upper = (question.domain.format_x(x) for x in (question.lower, question.upper))
    if question.scale == "date":
        return "already", f"after {upper} or never"
    fmt = "{:.3g}".format
    return f"below {fmt(lower)}", f"above {fmt(upper)}"


def plot_axis(question) -> dict:
    """The question's axis as static/js/plot.js reads it. `lower`/`upper` are internal units (days since 1970-01-01
    on a date scale), so that u = (x - lower) / (upper - lower), or ln(x / lower) / ln(upper / lower) on a log scale,
    places every grid point and every summary value."""
    below, above = tail_labels(question)
    return {
        "scale": question.scale, "lower": question.lower, "upper": question.upper,
        "open_lower": question.open_lower, "open_upper": question.open_upper, "unit": question.unit,
        "tail_below": below, "tail_above": above,
    }


def plot_series(key: str, label: str, dist, **extra) -> dict:
    """One stored distribution as the plot draws it: its 201-point CDF, tail masses and summary (question units)."""
    return {"key": key, "label": label, "cdf": dist.cdf.tolist(), "mass_below": dist.mass_below,
            "mass_above": dist.mass_above, "summary": dist.summary, **extra}


# At most this many predictions are drawn beneath the results (the newest first): beyond it a page would carry
# megabytes of CDFs and the lines would be one grey smear anyway. The plot's legend says how many are drawn.
MAX_CROWD_CURVES = 300


def crowd_series(question, user) -> tuple[list[dict], int]:
    """Every current prediction as a faint curve, once the crowd is visible (and []), with the count of them all.
    One query; each curve is named by its author, the viewer's own marked "(you)"."""
    if not permissions.crowd_visible(question, user):
        return [], 0
    rows = list(question.predictions.filter(is_current=True).select_related("author")
                .order_by("-created_at", "-pk")[:MAX_CROWD_CURVES + 1])
    total = len(rows) if len(rows) <= MAX_CROWD_CURVES else question.predictions.filter(is_current=True).count()
    series = []
    for p in rows[:MAX_CROWD_CURVES]:
        mine = user.is_authenticated and p.author_id == user.pk
        label = f"Prediction by {p.author.username}{' (you)' if mine else ''}"
        series.append(plot_series(f"prediction-{p.pk}", label, p, style="crowd", faint=True, mine=mine,
                                  author=p.author.username))
    return series, total


def results_plot(question, stored: dict, crowd: tuple[list[dict], int] = ([], 0)) -> dict | None:
    """The page's plot of its stored distributions (those present), for static/js/plot.js through json_script;
    `crowd` (crowd_series) adds every prediction beneath them, faint."""
    faint, total = crowd
    series = faint + [plot_series(key, label, stored[key]) for key, label in SERIES if stored.get(key) is not None]
    if not series:
        return None
    # Every curve has its median and 90% interval marked; the newest word on the question (posterior, else the pooled
    # crowd, else the prior) also has them written out, and its tail percentages where the others' do not fit.
    primary = next((s for s in reversed(series) if s["key"] != "yours" and not s.get("faint")), series[-1])
    primary["primary"] = True
    return {"axis": plot_axis(question), "series": series, "crowd_total": total}


def editor_data(question, kind: str, *, prior, my_prediction) -> dict:
    """What static/js/editor.js needs for one distribution form: where to preview, what to start from, and what to
    draw beneath (a commenter sees the prior and their own current prediction; the posterior starts from the prior)."""
    overlays = []
    if kind == "prior":
        start = prior
        if prior is not None:
            overlays.append(plot_series("saved", "Saved prior", prior))
    elif kind == "prediction":
        start = my_prediction
        if prior is not None:
            overlays.append(plot_series("prior", "Expert's prior", prior))
        if my_prediction is not None:
            overlays.append(plot_series("yours", "Your current prediction", my_prediction))
    else:
        start = prior
        if prior is not None:
            overlays.append(plot_series("prior", "Your prior", prior))
    return {
        "kind": kind,
        "preview_url": reverse("question-preview", kwargs={"pk": question.pk}),
        "axis": plot_axis(question),
        "start": start.spec if start is not None else None,
        "overlays": overlays,
        "closes_at": question.closes_at.date().isoformat(),
    }


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
            for field, problem in _service_problems(exc):
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
                                          password=form.cleaned_data["password"], address=client_address(request),
                                          email=form.cleaned_data.get("email") or None)
        except ServiceError as exc:
            for field, problem in _service_problems(exc):
                form.add_error(field if field in form.fields else None, problem)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            welcome = f"Welcome, {user.username}: your account is ready and you are signed in."
            if form.cleaned_data.get("email"):
                # services._email_store records whether the mail server took the link (False: it did not).
                welcome += (" We have mailed you a link to verify your address."
                            if getattr(user, "verification_mailed", True) else
                            " We could not mail the link to verify your address just now: ask for it again from your "
                            "notification settings.")
            messages.success(request, welcome)
            return redirect(next_url)
    return render(request, "registration/signup.html", {"form": form, "next": next_url},
                  status=400 if form.errors else 200)


FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


@cache_control(max_age=86400, public=True)
def favicon(request):
    """/favicon.ico, which browsers ask for whatever the page links: the site's SVG icon rather than a 404."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")


# The home page's filters (?show=...): a word a visitor reads, and the statuses it covers ("mine" is by person).
LIST_FILTERS = {
    "all": ("All", None),
    "open": ("Open", ("open",)),
    "closed": ("Closed, awaiting the posterior", ("closed",)),
    "finished": ("Finished", ("resolved", "scored", "awarded")),
    "mine": ("Mine", None),
}
QUESTIONS_PER_PAGE = 20


def question_list(request):
    """The home page: what the platform is, the questions by filter with their counts, a page at a time."""
    services.questions_close_due()  # the server's clock decides the status shown, with or without beat
    show = request.GET.get("show", "all")
    if show not in LIST_FILTERS or (show == "mine" and not request.user.is_authenticated):
        show = "all"
    questions = selectors.questions_visible(request.user)
    statuses = LIST_FILTERS[show][1]
    if statuses:
        questions = questions.filter(status__in=statuses)
    elif show == "mine":
        user = request.user
        questions = questions.filter(Q(expert=user) | Q(created_by=user) | Q(predictions__author=user)
                                     | Q(evidence__author=user)).distinct()
    awarded = PrizeAllocation.objects.filter(question=OuterRef("pk"), state=PrizeAllocation.State.AWARDED)
    def count_of(rows):
        # A correlated count per question: joining both tables and counting distinct would multiply the rows.
        return Coalesce(Subquery(rows.filter(question=OuterRef("pk")).order_by().values("question")
                                 .annotate(n=Count("pk")).values("n")), 0)

    questions = questions.annotate(
        n_evidence=count_of(Evidence.objects.all()),
        n_predictions=count_of(Prediction.objects.filter(is_current=True)),
        prize_pool=Subquery(awarded.annotate(total=F("accuracy_pool") + F("evidence_pool")).values("total")[:1]),
        prize_currency=Subquery(awarded.values("currency")[:1]),
    ).order_by("-created_at", "-pk")
    page = Paginator(questions, QUESTIONS_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    for q in page:
        q.crowd_shown = permissions.crowd_visible(q, request.user)
        q.closes_in = q.closes_at - now if q.status == "open" and q.closes_at > now else None
    filters = [(key, label) for key, (label, _) in LIST_FILTERS.items()
               if key != "mine" or request.user.is_authenticated]
    return render(request, "forecasts/question_list.html", {"page": page, "questions": page.object_list,
                                                             "show": show, "filters": filters})


def _forms_for(request, question, my_prediction=None) -> dict:
    """The forms this user may use on this question now; the services still check every rule on submit."""
    user = request.user
    if not user.is_authenticated:
        return {}
    forms: dict = {}
    tails = tail_labels(question)
    prior = getattr(question, "prior", None)

    def distribution_form(prefix: str, start) -> DistributionForm:
        # Fields keep what was saved: the prior its saved self, a prediction the current one, a posterior the prior.
        initial = quick_initial(start, question) if start is not None else None
        return DistributionForm(question=question, tails=tails, prefix=prefix, initial=initial)

    if permissions.can_set_prior(user, question):
        forms["prior_form"] = distribution_form("prior", prior)
    if permissions.can_post_evidence(user, question):
        forms["evidence_form"] = EvidenceForm(prefix="evidence")
    if permissions.can_predict(user, question):
        forms["prediction_form"] = distribution_form("prediction", my_prediction)
    if permissions.can_publish_posterior(user, question):
        forms["posterior_form"] = distribution_form("posterior", prior)
        forms["influence_form"] = _influence_form(question, user)
    has_prior = prior is not None
    forms["can_open"] = permissions.can_open(user, question) and has_prior
    forms["needs_prior"] = permissions.can_open(user, question) and not has_prior
    forms["can_close"] = permissions.can_close(user, question)
    if permissions.can_draft_prizes(user, question):
        forms["prize_form"] = PrizeForm(prefix="prizes")
        forms["drafts"] = list(selectors.allocations_visible(question, user).filter(state=PrizeAllocation.State.DRAFT))
        flags = selectors.prize_review_flags(question, forms["drafts"])
        for draft in forms["drafts"]:
            draft.review_flags = flags.get(draft.pk, [])
        forms["exclusions"] = list(selectors.prize_exclusions(question))
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


def _spec_field(form: DistributionForm, path: str, rule: str) -> str | None:
    """The form field that holds what the engine's spec path names, or None for the form as a whole."""
    point = _POINT.fullmatch(path)
    if point:
        i = int(point["i"])
        if point["part"] == "x":
            # The i-th point is the i-th quantile field the person filled in (empty ones make no point).
            return form.point_fields[i] if i < len(form.point_fields) else None
        # The form fixes each point's p; a p the engine refuses conflicts with the probability beyond a bound.
        return next((name for name in ("mass_below", "mass_above") if name in rule and name in form.fields), None)
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
        target, field = form, None
        if key == "spec" and isinstance(form, DistributionForm):
            match = _SPEC_PATH.fullmatch(problem)
            if match:
                field, problem = _spec_field(form, match["path"], match["rule"]), match["rule"]
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


# --- the question page's forms: one small handler per action ---------------------------------------------------------


@dataclass(frozen=True)
class FormAction:
    """A form on the question page: what its flash names, its context key, how to bind it, and how to save it (one
    service call and the success flash; the posterior returns the evidence ids its influence rows were read from)."""

    what: str
    key: str
    bind: Callable[..., Any]
    save: Callable[..., list[int] | None]


def _bind_distribution(request, question, action):
    return DistributionForm(request.POST, question=question, tails=tail_labels(question), prefix=action)


def _save_prior(request, question, form, _influence_form):
    _saved(request, "Prior saved.", services.prior_set(question=question, user=request.user, spec=form.spec()))


def _save_prediction(request, question, form, _influence_form):
    prediction = services.prediction_submit(question=question, author=request.user, spec=form.spec(),
                                            arrived_at=arrival_of(request))
    _saved(request, "Your predicted posterior is saved; your newest one is the one scored.", prediction)


def _save_evidence(request, question, form, _influence_form):
    parent = form.cleaned_data.get("parent")
    services.evidence_post(question=question, author=request.user, body=form.cleaned_data["body"],
                           sources=form.cleaned_data["sources"], parent_id=parent, arrived_at=arrival_of(request))
    messages.success(request, "Reply posted." if parent else "Evidence posted.")


def _save_prizes(request, question, form, _influence_form):
    draft = prizes.prizes_draft(question=question, user=request.user, **form.cleaned_data)
    messages.success(request, f"Draft allocation #{draft.pk} computed: check it below, then award it.")


def _save_posterior(request, question, form, influence_form):
    influence, influence_ids = influence_form.influence()
    try:
        posterior = services.posterior_publish(question=question, user=request.user, spec=form.spec(),
                                               influence=influence)
    except ServiceError as exc:
        exc.influence_ids = influence_ids  # type: ignore[attr-defined]  # for mapping influence[i] to its field
        raise
    _saved(request, "Posterior published; scoring has started.", posterior)
    return influence_ids


FORM_ACTIONS = {
    "prior": FormAction("Your prior", "prior_form", _bind_distribution, _save_prior),
    "prediction": FormAction("Your prediction", "prediction_form", _bind_distribution, _save_prediction),
    "evidence": FormAction("Your evidence", "evidence_form",
                           lambda request, question, action: EvidenceForm(request.POST, prefix="evidence"),
                           _save_evidence),
    "posterior": FormAction("Your posterior", "posterior_form", _bind_distribution, _save_posterior),
    "prizes": FormAction("The prize draft", "prize_form",
                         lambda request, question, action: PrizeForm(request.POST, prefix="prizes"), _save_prizes),
}


def _step_open(request, question) -> str:
    services.question_open(question=question, user=request.user)
    return "The question is open for evidence and predictions."


def _step_close(request, question) -> str:
    services.question_close(question=question, user=request.user)
    return "The question is closed."


def _step_endorse(request, question) -> str:
    raw = request.POST.get("evidence", "")
    evidence_id = _parse_id(raw)
    evidence = Evidence.objects.filter(pk=evidence_id, question=question).first() if evidence_id is not None else None
    if evidence is None:
        raise ServiceError({"evidence": [f"no evidence {raw!r} on this question"]})
    services.evidence_endorse(evidence=evidence, user=request.user, arrived_at=arrival_of(request))
    return f"Noted: evidence #{evidence.pk} changed your mind."


def _step_outcome(request, question) -> str:
    services.outcome_record(question=question, user=request.user, value=_outcome_value(request.POST.get("value", "")))
    return "Outcome recorded; the forecasts are scored against it."


def _step_exclude(request, question) -> str:
    exclusion = prizes.prize_exclude(question=question, user=request.user, username=request.POST.get("user", ""),
                                     reason=request.POST.get("reason", ""))
    return (f"{exclusion.user.get_username()} is excluded from this question's prizes; every draft is recomputed "
            "without them.")


def _step_award(request, question) -> str:
    raw = request.POST.get("allocation", "")
    allocation_id = _parse_id(raw)
    if allocation_id is None:
        raise ServiceError({"allocation": [f"no draft allocation {raw!r} on this question"]})
    prizes.prizes_award(question=question, user=request.user, allocation_id=allocation_id)
    return f"Allocation #{allocation_id} awarded; the draw seed is now public."


# Buttons without a form of their own: one service call each, then back to the page with its message.
STEP_ACTIONS: dict[str, Callable[..., str]] = {
    "open": _step_open, "close": _step_close, "endorse": _step_endorse, "outcome": _step_outcome,
    "exclude": _step_exclude, "award": _step_award,
}


@login_required
@require_POST
def question_act(request, pk: int, action: str):
    """Handle one form or button on the question page. Success: back to the page with a message (redirect after
    post). A form refused: the page again with what was typed and each error next to its field (400; 403/409 when
    the role or the question's status refused it). A button refused: back to the page with the reason."""
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    if action in FORM_ACTIONS:
        return _act_form(request, question, action, FORM_ACTIONS[action])
    step = STEP_ACTIONS.get(action)
    try:
        if step is None:
            raise ServiceError({"action": [f"unknown action {action!r}"]})
        messages.success(request, step(request, question))
    except ServiceError as exc:
        for field, problem in _service_problems(exc):
            messages.error(request, f"{field}: {problem}" if field != "detail" else problem)
    return redirect("forecasts:question-detail", pk=question.pk)


def _act_form(request, question, action: str, handler: FormAction):
    form = handler.bind(request, question, action)
    influence_form = _influence_form(question, request.user, request.POST) if action == "posterior" else None
    valid = form.is_valid()
    valid = (influence_form.is_valid() if influence_form is not None else True) and valid
    status = 400
    if valid:
        try:
            handler.save(request, question, form, influence_form)
        except ServiceError as exc:
            status = exc.status_code  # 400 for bad input; 403 or 409 when the role or the status refused it
            _add_service_errors(exc, form, influence_form=influence_form,
                                influence_ids=getattr(exc, "influence_ids", []))
        else:
            return redirect("forecasts:question-detail", pk=question.pk)
    messages.error(request, f"{handler.what} was not saved: {_error_summary(form, influence_form)}")
    question = get_object_or_404(selectors.questions_visible(request.user), pk=question.pk)  # e.g. closed meanwhile
    bound = {handler.key: form}
    if influence_form is not None:
        bound["influence_form"] = influence_form
    return _render_detail(request, question, bound=bound, status=status)


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
    forms = _forms_for(request, question, my_prediction)
    for key, form in (bound or {}).items():
        if key in forms:
            forms[key] = form
    editors = {f"{kind}_editor": editor_data(question, kind, prior=prior, my_prediction=my_prediction)
               for kind in ("prior", "prediction", "posterior") if f"{kind}_form" in forms}
    evidence_page, roots, evidence = _evidence_thread(request, question, every="influence_form" in forms)
    if request.user.is_authenticated:
        mine = set(Endorsement.objects.filter(user=request.user, evidence__question=question)
                   .values_list("evidence_id", flat=True))
    else:
        mine = set()
    influences = ({i.evidence_id: i for i in question.influences.all()} if posterior is not None else {})
    total_weight = sum(i.weight for i in influences.values())
    names = selectors.author_names(question, request.user)  # pseudonyms for an expert weighing blind
    influence_form = forms.get("influence_form")
    for e in evidence:
        # The expert's weight and note for this comment, drawn beside it (InfluenceForm.FORM_ID ties them to the form).
        if influence_form is not None and f"influence-{e.pk}" in influence_form.fields:
            e.weight_field = influence_form[f"influence-{e.pk}"]
            e.note_field = influence_form[f"note-{e.pk}"]
        e.shown_author = selectors.shown_author(e, names)
        e.endorsed_by_me = e.pk in mine
        e.influence = influences.get(e.pk)
        e.influence_share = (f"{e.influence.weight / total_weight:.0%}" if e.influence and total_weight > 0
                             else None)
    allocation = question.allocations.filter(state="awarded").prefetch_related("payouts__user").first()
    expert_view = permissions.is_expert(request.user, question) or permissions.is_organizer(request.user)
    context = {
        "question": question,
        "lower": question.domain.format_x(question.lower),
        "upper": question.domain.format_x(question.upper),
        "tail_labels": tail_labels(question),
        "any_open_side": question.open_lower or question.open_upper,
        "prior": prior,
        "posterior": posterior,
        "aggregate": aggregate,
        # The fit notes speak to whoever typed the quantiles: the expert (and the organizers who help them).
        "prior_warnings": fit_warnings(prior) if expert_view else [],
        "posterior_warnings": fit_warnings(posterior) if expert_view else [],
        "my_prediction_warnings": fit_warnings(my_prediction),
        "results_plot": results_plot(question, {"prior": prior, "posterior": posterior, "aggregate": aggregate,
                                                "yours": my_prediction},
                                     crowd_series(question, request.user)),
        **editors,
        "evidence": roots,
        "evidence_page": evidence_page,
        "evidence_count": evidence_page.paginator.count if evidence_page is not None else len(roots),
        "influence_shown": posterior is not None,
        "authors_hidden": names is not None,
        "log_visible": permissions.log_entries_visible(question),
        "scores": selectors.scores_list(question)[:100],
        "allocation": allocation,
        "allocation_rules": ((PRIZE_RULES.get(allocation.accuracy_rule, allocation.accuracy_rule),
                              PRIZE_RULES.get(allocation.evidence_rule, allocation.evidence_rule))
                             if allocation is not None else None),
        "draw": draw_audit(question, allocation),
        "my_prediction": my_prediction,
        "report": (selectors.question_report(question, rows=False)
                   if permissions.crowd_visible(question, request.user) else None),
        "pools": (selectors.pools_side_by_side(question) if permissions.crowd_visible(question, request.user)
                  else []),
        "can_record_outcome": permissions.can_record_outcome(request.user, question),
        **forms,
    }
    return render(request, "forecasts/question_detail.html", context, status=status)


# Each prize rule in a sentence, for the prize table (the exact rules: docs/prizes.md).
PRIZE_RULES = {
    "winner_takes_all": "the best-ranked prediction (lowest KL to the posterior) takes the whole pool; tied "
                        "predictions split it",
    "top_k": "the top-ranked predictions share the pool by fixed shares per rank; ties pool their ranks' shares",
    "proportional_skill": "split in proportion to each prediction's positive skill over the prior; no skill, no prize",
    "proportional": "split in proportion to the expert's influence weights",
    "draw": "the whole pool goes to ONE comment, drawn at random with chances proportional to the expert's influence "
            "weights, from a seed committed before the weights existed; anyone can re-run it",
}
DOCS = Path(__file__).resolve().parent.parent / "docs"


@functools.cache
def draw_snippet() -> str:
    """The standard-library re-run of the evidence draw, exactly as docs/prizes.md gives it (and its tests run)."""
    text = (DOCS / "prizes.md").read_text(encoding="utf-8")
    after = text.split("<!-- draw-snippet -->", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0].rstrip()


def draw_audit(question, allocation) -> dict | None:
    """An awarded draw as the page shows it: each entry's chance (its share of the weight units), the seed, its
    commitment, the winner, and the call that re-runs it with the snippet of docs/prizes.md."""
    draw = allocation.draw if allocation is not None else None
    if not draw or not permissions.draw_seed_visible(question):
        return None
    total = draw["total"]
    entries = [{**e, "evidence_id": int(e["key"]) if _ID.fullmatch(e["key"]) else None,
                "chance": e["units"] / total if total else 0.0, "won": e["key"] == draw["winner"]}
               for e in draw["entries"]]
    weights = {e["key"]: str(e["weight"]) for e in draw["entries"]}
    return {**draw, "entries": entries, "snippet": draw_snippet(),
            "call": f"print(draw({json.dumps(draw['seed'])}, {json.dumps(weights)}))"}


# Top-level evidence items per page of a question (replies go with their parent), and how deep replies are followed.
EVIDENCE_PER_PAGE = 50
REPLY_DEPTH = 4


def _evidence_thread(request, question, *, every: bool):
    """(page or None, the top-level items shown, every item shown) of the question's evidence: a page of top-level
    items (?evidence_page=N) with their replies under them (`children`), REPLY_DEPTH levels deep at one query a
    level. `every`: no pages, for the expert weighing every comment at once (each weight box must be on the page)."""
    rows = selectors.evidence_list(question).order_by("created_at", "pk")
    roots_qs = rows.filter(parent__isnull=True)
    page = None
    if every:
        roots = list(roots_qs)
    else:
        page = Paginator(roots_qs, EVIDENCE_PER_PAGE).get_page(request.GET.get("evidence_page"))
        roots = list(page.object_list)
    shown, level = list(roots), roots
    for _ in range(REPLY_DEPTH):
        if not level:
            break
        by_id = {e.pk: e for e in level}
        for e in level:
            e.children = []
        level = list(rows.filter(parent_id__in=list(by_id)))
        for reply in level:
            by_id[reply.parent_id].children.append(reply)
        shown.extend(level)
    for e in level:
        e.children = []
    return page, roots, shown


# The calibration bars' full length, in SVG user units (the largest bin fills it).
CALIBRATION_BAR_WIDTH = 200


def _calibration_rows(counts: list[int]) -> list[dict]:
    """One row per bin of a PIT histogram: its range, count, and bar length (the template draws the bar)."""
    bins = len(counts)
    top = max(counts, default=0)
    return [{"low": i / bins, "high": (i + 1) / bins, "count": c,
             "width": round(CALIBRATION_BAR_WIDTH * c / top) if top else 0} for i, c in enumerate(counts)]


def user_profile(request, username: str):
    """A user's track record, as the viewer may see it (forecasts.records.track_record), and calibration bars; then
    their predictions, evidence and prizes (records.user_activity: only what the viewer may see)."""
    try:
        record = records.track_record(username=username, viewer=request.user)
        activity = records.user_activity(username=username, viewer=request.user)
    except NotFound as exc:
        raise Http404("no such user") from exc
    context = {
        "record": record,
        **activity,
        "is_me": request.user.is_authenticated and request.user.get_username() == record["username"],
        "bar_width": CALIBRATION_BAR_WIDTH,
        "calibration": [
            {"name": "posterior", "label": "Where the expert's posterior median fell in each prediction",
             "rows": _calibration_rows(record["calibration"]["posterior"])},
            {"name": "outcome", "label": "Where the outcome fell in each prediction",
             "rows": _calibration_rows(record["calibration"]["outcome"])},
        ],
    }
    return render(request, "forecasts/user_profile.html", context)


# --- competitions and leaderboards (what the API has, as pages) ----------------------------------------------------


def competition_list(request):
    competitions = list(selectors.competitions_list())
    visible = set(selectors.questions_visible(request.user).filter(competitions__in=competitions)
                  .values_list("pk", flat=True))
    for c in competitions:
        c.shown_questions = [q for q in c.questions.all() if q.pk in visible]
    return render(request, "forecasts/competition_list.html", {"competitions": competitions})


def competition_detail(request, pk: int):
    """A competition: its questions (those the viewer may see), its leaderboard across them and its award."""
    try:
        competition = selectors.competition_get(pk)
    except NotFound as exc:
        raise Http404("no such competition") from exc
    award = selectors.competition_award(competition)
    paid = {p.user_id: p.amount for p in award.payouts.all()} if award else {}
    board = selectors.competition_leaderboard(competition)
    for entry in board:
        entry["payout"] = paid.get(entry["user_id"]) if award else None
        entry["mine"] = entry["user_id"] == request.user.pk
    context = {
        "competition": competition,
        "questions": selectors.questions_visible(request.user).filter(competitions=competition).order_by("pk"),
        "board": board,
        "award": award,
    }
    return render(request, "forecasts/competition_detail.html", context)


def question_leaderboard(request, pk: int):
    """A question's scores best first with each user's payout once awarded (GET /api/questions/{id}/leaderboard/)."""
    question = get_object_or_404(selectors.questions_visible(request.user), pk=pk)
    board = selectors.question_leaderboard(question)
    return render(request, "forecasts/leaderboard.html", {"question": question, "board": board})


# --- notifications and email ---------------------------------------------------------------------------------------


def notification_count(request) -> dict:
    """Template context: the signed-in person's unread count, for the bell in base.html."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notifications.unread_count(user)}


@login_required
def notification_list(request):
    rows = list(Notification.objects.filter(user=request.user).select_related("question")[:200])
    for row in rows:
        row.summary = notifications.summary(row)  # type: ignore[attr-defined]
    return render(request, "forecasts/notifications.html", {"rows": rows})


@login_required
@require_POST
def notifications_read(request):
    notifications.notifications_mark_read(user=request.user)
    return redirect("forecasts:notifications")


@login_required
def notification_settings(request):
    email_form = EmailForm(request.POST if request.POST.get("action") == "email" else None)
    if request.method == "POST" and request.POST.get("action") == "email" and email_form.is_valid():
        try:
            services.email_set(user=request.user, email=email_form.cleaned_data["email"])
        except ServiceError as exc:
            for field, problem in _service_problems(exc):
                email_form.add_error("email" if field == "email" else None, problem)
        else:
            if getattr(request.user, "verification_mailed", True):
                messages.success(request, "We have mailed you a link: follow it to verify the address.")
            else:
                messages.error(request, "We could not mail the link just now (the mail server did not take it): "
                                        "please try again in a few minutes.")
            return redirect("forecasts:notification-settings")
    elif request.method == "POST" and request.POST.get("action") == "preferences":
        modes = {kind: request.POST[kind] for kind in NotificationKind.values
                 if request.POST.get(kind) in NotificationPreference.Mode.values}
        notifications.preferences_set(user=request.user, modes=modes)
        messages.success(request, "Saved.")
        return redirect("forecasts:notification-settings")
    chosen = notifications.preferences_of(request.user)
    context = {
        "address": EmailAddress.objects.filter(user=request.user).first(),
        "email_form": email_form,
        "preferences": [(kind, NOTIFICATION_LABELS[kind], chosen[kind]) for kind in NotificationKind.values],
        "modes": list(MODE_LABELS.items()),
    }
    return render(request, "forecasts/notification_settings.html", context, status=400 if email_form.errors else 200)


def unsubscribe(request, token: str):
    """One click from a mail, signed in or not: the signed token says whose mail of which kind to stop."""
    try:
        user, kind = notifications.unsubscribe(token)
    except signing.BadSignature:
        return render(request, "forecasts/unsubscribe.html",
                      {"error": "This unsubscribe link is not valid (it was changed or cut short)."}, status=400)
    what = "no notification" if kind == notifications.ALL_KINDS else f"“{NOTIFICATION_LABELS[kind]}”"
    return render(request, "forecasts/unsubscribe.html", {"user": user, "what": what})


def email_verify(request, token: str):
    try:
        address = services.email_verify(token=token)
    except ServiceError as exc:
        problems = [problem for _, problem in _service_problems(exc)]
        return render(request, "registration/verify.html", {"error": "; ".join(problems)}, status=400)
    return render(request, "registration/verify.html", {"address": address})
