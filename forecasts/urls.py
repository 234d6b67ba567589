from django.urls import path

from . import pages

app_name = "forecasts"
urlpatterns = [
    path("", pages.question_list, name="question-list"),
    path("favicon.ico", pages.favicon, name="favicon"),
    path("accounts/signup/", pages.signup, name="signup"),
    path("users/<str:username>/", pages.user_profile, name="user-profile"),
    path("accounts/verify/<str:token>/", pages.email_verify, name="email-verify"),
    path("notifications/", pages.notification_list, name="notifications"),
    path("notifications/read/", pages.notifications_read, name="notifications-read"),
    path("notifications/settings/", pages.notification_settings, name="notification-settings"),
    path("notifications/unsubscribe/<str:token>/", pages.unsubscribe, name="unsubscribe"),
    path("questions/new/", pages.question_new, name="question-new"),
    path("questions/<int:pk>/", pages.question_detail, name="question-detail"),
    path("questions/<int:pk>/leaderboard/", pages.question_leaderboard, name="question-leaderboard"),
    path("competitions/", pages.competition_list, name="competition-list"),
    path("competitions/<int:pk>/", pages.competition_detail, name="competition-detail"),
    path("questions/<int:pk>/<slug:action>/", pages.question_act, name="question-act"),
]
