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
)


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "scale", "status", "expert", "closes_at"]
    list_filter = ["status", "scale"]
    search_fields = ["title"]
    readonly_fields = ["draw_seed", "draw_commitment"]


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "author", "created_at"]
    list_filter = ["question"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "author", "is_current", "created_at"]
    list_filter = ["question", "is_current"]
    exclude = ["cdf_bytes"]


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["question", "prediction", "author", "rank", "kl", "skill", "crps"]
    list_filter = ["question"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "question", "state", "done", "total", "attempts", "created_at"]
    list_filter = ["state", "kind"]


class PayoutInline(admin.TabularInline):
    model = Payout
    extra = 0


@admin.register(PrizeAllocation)
class PrizeAllocationAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "state", "accuracy_pool", "evidence_pool", "created_at", "awarded_at"]
    inlines = [PayoutInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor", "question"]
    list_filter = ["action"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit log is append-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(Influence)
admin.site.register(Competition)
