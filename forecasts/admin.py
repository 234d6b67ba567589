"""The admin is for looking: every change goes through the services (their rules, their audit log), so no model here
can be added, changed or deleted from the admin."""

from django.contrib import admin

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
    exclude = ["cdf_bytes"]


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


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):  # the audit log is append-only, and only the services append
    list_display = ["at", "action", "actor", "question"]
    list_filter = ["action"]


admin.site.register(Influence, ReadOnlyAdmin)
admin.site.register(Competition, ReadOnlyAdmin)
