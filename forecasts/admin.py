"""The admin is for looking: every change goes through the services (their rules, their audit log), so no model here
can be added, changed or deleted from the admin."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from rest_framework.authtoken.admin import TokenProxy

from .audit import audit
from .models import (
    AuditEvent,
    Competition,
    Evidence,
    Influence,
    Job,
    Payout,
    Prediction,
    PrizeAllocation,
    Question,
    Score,
    Status,
)
from .permissions import crowd_visible, draw_seed_visible
from .services import user_tokens_revoke


class ReadOnly:
    """Shows rows; writing them here would skip the services' checks (status, roles, money) and the audit log."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


@admin.register(Question)
class QuestionAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "scale", "status", "expert", "closes_at"]
    list_filter = ["status", "scale"]
    search_fields = ["title"]

    def get_exclude(self, request, obj=None):
        # The evidence draw's seed is secret until the award (only its SHA-256 commitment is public before): whoever
        # knew it early could steer the draw through the influence weights.
        return [] if obj is not None and obj.status == Status.AWARDED else ["draw_seed"]


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ["id", "question", "author", "created_at"]
    list_filter = ["question"]


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ["id", "question", "author", "is_current", "created_at"]
    list_filter = ["question", "is_current"]

    def get_exclude(self, request, obj=None):
        # The same rule as the API (permissions.crowd_visible): nobody, organizers included, reads a prediction
        # before the expert's posterior is published. Organizers may predict; the expert must not be anchored.
        if obj is not None and crowd_visible(obj.question, request.user):
            return ["cdf_bytes"]
        return ["cdf_bytes", "spec", "summary", "fit", "notes", "mass_below", "mass_above"]


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    list_display = ["question", "prediction", "author", "rank", "kl", "skill", "crps"]
    list_filter = ["question"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "question", "state", "done", "total", "attempts", "created_at"]
    list_filter = ["state", "kind"]


class PayoutInline(ReadOnly, admin.TabularInline):
    model = Payout
    extra = 0


@admin.register(PrizeAllocation)
class PrizeAllocationAdmin(ReadOnlyAdmin):
    list_display = ["id", "question", "state", "accuracy_pool", "evidence_pool", "created_at", "awarded_at"]
    inlines = [PayoutInline]

    def get_exclude(self, request, obj=None):
        # A draft's draw transcript carries the seed, secret until the award (as on the question).
        return [] if obj is not None and draw_seed_visible(obj.question) else ["draw"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):  # the audit log is append-only, and only the services append
    list_display = ["at", "action", "actor", "question"]
    list_filter = ["action"]


admin.site.register(Influence, ReadOnlyAdmin)
admin.site.register(Competition, ReadOnlyAdmin)


# API tokens are passwords: the admin must not list them (rest_framework.authtoken registers them by default).
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)

User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    """Superusers only may change accounts here (roles, passwords), and each change lands in the audit log; staff
    (organizers) may look. A password set here ends the user's API tokens, like any other password change."""

    def has_add_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser or (request.method in ("GET", "HEAD")
                                             and super().has_view_permission(request, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def log_addition(self, request, obj, message):
        audit(action="admin.user.add", actor=request.user, user=obj.pk, username=obj.get_username())
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit(action="admin.user.change", actor=request.user, user=obj.pk, change=str(message))
        if "password" in str(message).lower():
            user_tokens_revoke(user=obj, reason="password set in the admin")
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit(action="admin.user.delete", actor=request.user, user=obj.pk, username=obj.get_username())
        return super().log_deletions(request, queryset)
