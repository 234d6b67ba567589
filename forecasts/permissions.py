"""Who may do what, and who may see what: the one place that answers it.

Services ask the `require_*` functions before they write; selectors, the API and the pages ask the `can_*` and
`*_visible` questions before they show. Every rule about roles and visibility lives here, once.

Roles (docs/design.md): a question's **expert** (the user named in `expert`), **commenters** (any other signed-in
user) and **organizers** (`is_staff`, or members of the group `organizers`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from .errors import Conflict, Forbidden
from .models import Job, Question, Status

ORGANIZERS_GROUP = "organizers"

# The crowd (others' predicted posteriors, and the pooled forecast and job results computed from them) is public only
# once the expert's posterior is published, for everyone alike: before that, commenters could copy each other, an
# organizer (who may predict) could copy the crowd, and the expert's posterior would be anchored on the crowd, which
# spoils the measurement. Closing is not enough: what a commenter sees after close can still reach the expert.
# Each author always sees their own predictions. The influence weights explain the posterior, so they go with it.
CROWD_PUBLIC_FROM = (Status.RESOLVED, Status.SCORED, Status.AWARDED)
# Statuses in which every current prediction has its score.
SCORED_STATES = (Status.SCORED, Status.AWARDED)
# Statuses in which the prior may still change, and in which evidence and predictions are taken.
PRIOR_EDITABLE = (Status.DRAFT, Status.OPEN)
ACCEPTING = (Status.OPEN,)
# Statuses in which the outcome may be recorded by the expert or an organizer: the posterior is published, so knowing
# the truth can no longer bend it. An organizer may also record it on a closed question whose expert never published
# (the expert, who could still publish, may not: an expert who knows the truth cannot write an honest posterior).
OUTCOME_FROM = CROWD_PUBLIC_FROM
OUTCOME_ORGANIZER_ALSO = (Status.CLOSED,)

User: TypeAlias = AbstractBaseUser | AnonymousUser


# --- roles ----------------------------------------------------------------------------------------------------------


def is_organizer(user: User) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    # Asked several times in one request (visibility, then the role): the group lookup is made once per user object,
    # which lives for one request (a membership change shows on the next request).
    cached = getattr(user, "_fa_is_organizer", None)
    if cached is None:
        cached = user.groups.filter(name=ORGANIZERS_GROUP).exists()
        user._fa_is_organizer = cached
    return cached


def is_expert(user: User, question: Question) -> bool:
    return user.is_authenticated and question.expert_id == user.pk


def may_step(user: User, question: Question) -> bool:
    """Open or close the question: its expert or an organizer."""
    return is_expert(user, question) or is_organizer(user)


# --- checks the services make before writing --------------------------------------------------------------------------


def require_expert(user: User, question: Question, action: str) -> None:
    if not is_expert(user, question):
        raise Forbidden(f"only the question's expert may {action}")


def require_expert_or_organizer(user: User, question: Question, action: str) -> None:
    if not may_step(user, question):
        raise Forbidden(f"only the question's expert or an organizer may {action}")


def require_organizer(user: User, action: str) -> None:
    if not is_organizer(user):
        raise Forbidden(f"only organizers may {action}")


def require_not_expert(user: User, question: Question) -> None:
    if is_expert(user, question):
        raise Forbidden("the question's expert cannot predict their own posterior")


def require_status(question: Question, allowed: Iterable[str], action: str) -> None:
    allowed = tuple(allowed)
    if question.status not in allowed:
        raise Conflict(f"cannot {action} while the question is {question.status} (allowed: {', '.join(allowed)})")


def require_outcome_allowed(user: User, question: Question) -> None:
    """Who may record the outcome, and when (docs/design.md, Outcomes): 403 for the role, 409 for the status."""
    require_expert_or_organizer(user, question, "record the outcome")
    if question.status in OUTCOME_FROM:
        return
    if question.status in OUTCOME_ORGANIZER_ALSO:
        if is_organizer(user):
            return
        raise Conflict("the outcome is recorded after the posterior is published (an organizer may record it on a "
                       "closed question whose expert never publishes)")
    raise Conflict(f"the outcome cannot be recorded while the question is {question.status}")


# --- visibility ---------------------------------------------------------------------------------------------------


def questions_filter(user: User) -> Q:
    """The questions a user may see: drafts only by their expert, their creator and organizers."""
    if is_organizer(user):
        return Q()
    if not user.is_authenticated:
        return ~Q(status=Status.DRAFT)
    return ~Q(status=Status.DRAFT) | Q(expert=user) | Q(created_by=user)


def question_visible(user: User, question: Question) -> bool:
    """The rule of questions_filter for one question already read (cheapest tests first: no query unless a draft)."""
    if question.status != Status.DRAFT:
        return True
    return user.is_authenticated and (question.expert_id == user.pk or question.created_by_id == user.pk
                                      or is_organizer(user))


def crowd_visible(question: Question, user: User | None = None) -> bool:
    """May anyone see everyone's predictions, the pooled forecast and the influence weights?

    The same answer for every user, organizers and the expert included: the crowd is public from the posterior on,
    or once an organizer has recorded the outcome of a closed question whose expert never published (no posterior
    can follow it, so there is nothing left to anchor).
    """
    if question.status in CROWD_PUBLIC_FROM:
        return True
    return question.status == Status.CLOSED and hasattr(question, "outcome")


def log_entries_visible(question: Question) -> bool:
    """The forecast log's entries show with the crowd: before that their authors and times would reveal who predicted
    and when. Its `closed_head` and `head` show from close on."""
    return crowd_visible(question)


def authors_hidden_from(user: User, question: Question) -> bool:
    """Blind weighting: does this user see the question's evidence under pseudonyms instead of authors?

    Only the question's expert, only on a blind question, and only until the posterior is published: the expert
    weighs each comment's influence, and a name (reputation, friendship, a recognisable second account) should not
    weigh with it. Organizers and the authors see names throughout; everyone sees them once the posterior is out.
    """
    return question.blind and is_expert(user, question) and question.status not in CROWD_PUBLIC_FROM


def crowd_visible_filter() -> Q:
    """crowd_visible as a filter on questions, for reads across many of them (track records)."""
    return Q(status__in=CROWD_PUBLIC_FROM) | Q(status=Status.CLOSED, outcome__isnull=False)


def scores_visible(question: Question) -> bool:
    """Scores show only once the scoring job has finished, so nobody reads a half-written ranking."""
    return question.status in SCORED_STATES


def job_result_visible(job: Job, user: User) -> bool:
    """May this user read what the job computed (`result`)? Its state and progress go with the question."""
    if job.kind == Job.Kind.PRIZES:
        # Amounts and the draw's winner, like the draft allocation they belong to, are for organizers.
        return is_organizer(user)
    if job.kind == Job.Kind.AGGREGATE:
        return crowd_visible(job.question, user)  # how many predictions were pooled
    return True


def job_progress_visible(job: Job, user: User) -> bool:
    """May this user read a job's counts and times? Not an aggregate job's while the crowd is hidden: its `total`
    (and `done`, and when it was queued) say how many predictions there are and when they came."""
    return job.kind != Job.Kind.AGGREGATE or crowd_visible(job.question, user)


def draw_seed_visible(question: Question) -> bool:
    """The draw's seed is revealed by the award; before that the expert, who sets the weights, could pick the winner."""
    return question.status == Status.AWARDED


# --- what a user may do now (the page offers these forms; the services still check on submit) ----------------------


def can_set_prior(user: User, question: Question) -> bool:
    return is_expert(user, question) and question.status in PRIOR_EDITABLE


def can_post_evidence(user: User, question: Question) -> bool:
    return user.is_authenticated and question.status in ACCEPTING


def can_predict(user: User, question: Question) -> bool:
    return can_post_evidence(user, question) and not is_expert(user, question)


def can_publish_posterior(user: User, question: Question) -> bool:
    return is_expert(user, question) and question.status == Status.CLOSED


def can_open(user: User, question: Question) -> bool:
    return question.status == Status.DRAFT and may_step(user, question)


def can_close(user: User, question: Question) -> bool:
    return question.status == Status.OPEN and may_step(user, question)


def can_draft_prizes(user: User, question: Question) -> bool:
    return question.status == Status.SCORED and is_organizer(user)


def can_record_outcome(user: User, question: Question) -> bool:
    if not may_step(user, question) or hasattr(question, "outcome"):
        return False
    return question.status in OUTCOME_FROM or (question.status in OUTCOME_ORGANIZER_ALSO and is_organizer(user))


def can_read_audit(user: User) -> bool:
    return is_organizer(user)


def can_review_prizes(user: User) -> bool:
    """Review flags, exclusions and sign-up addresses: organizers only (an address identifies a person's network)."""
    return is_organizer(user)
