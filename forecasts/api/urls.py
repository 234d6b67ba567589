from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import prize_views, report_views, views

router = DefaultRouter(trailing_slash=True)
router.register("questions", views.QuestionViewSet, basename="question")
router.register("evidence", views.EvidenceEndorseView, basename="evidence")
router.register("jobs", views.JobViewSet, basename="job")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("auth/register/", views.register, name="auth-register"),
    path("auth/token/", views.token, name="auth-token"),
    path("auth/logout/", views.logout, name="auth-logout"),
    # Prizes, audit, leaderboards, influence and competitions (forecasts/api/prize_views.py).
    path("questions/<int:pk>/prizes/", prize_views.QuestionPrizesView.as_view(), name="question-prizes"),
    path("questions/<int:pk>/prizes/award/", prize_views.QuestionPrizesAwardView.as_view(),
         name="question-prizes-award"),
    path("questions/<int:pk>/prizes/exclusions/", prize_views.QuestionPrizeExclusionsView.as_view(),
         name="question-prizes-exclusions"),
    path("questions/<int:pk>/audit/", prize_views.QuestionAuditView.as_view(), name="question-audit"),
    path("questions/<int:pk>/audit.csv", prize_views.QuestionAuditCSVView.as_view(), name="question-audit-csv"),
    path("questions/<int:pk>/payouts.csv", prize_views.QuestionPayoutsCSVView.as_view(), name="question-payouts-csv"),
    path("questions/<int:pk>/leaderboard/", prize_views.QuestionLeaderboardView.as_view(), name="question-leaderboard"),
    path("questions/<int:pk>/influence/", prize_views.QuestionInfluenceView.as_view(), name="question-influence"),
    path("questions/<int:pk>/report/", report_views.QuestionReportView.as_view(), name="question-report"),
    path("questions/<int:pk>/report.csv", report_views.QuestionReportCSVView.as_view(), name="question-report-csv"),
    path("users/<str:username>/record/", views.user_record, name="user-record"),
    path("report/", report_views.ReportView.as_view(), name="report"),
    path("report.csv", report_views.ReportCSVView.as_view(), name="report-csv"),
    path("competitions/", prize_views.CompetitionListView.as_view(), name="competition-list"),
    path("competitions/<int:pk>/", prize_views.CompetitionDetailView.as_view(), name="competition-detail"),
    path("competitions/<int:pk>/leaderboard/", prize_views.CompetitionLeaderboardView.as_view(),
         name="competition-leaderboard"),
    path("competitions/<int:pk>/prizes/", prize_views.CompetitionPrizesView.as_view(), name="competition-prizes"),
    path("competitions/<int:pk>/payouts.csv", prize_views.CompetitionPayoutsCSVView.as_view(),
         name="competition-payouts-csv"),
    path("", include(router.urls)),
]
