from django.urls import path

from . import pages

app_name = "forecasts"
urlpatterns = [
    path("", pages.question_list, name="question-list"),
    path("questions/<int:pk>/", pages.question_detail, name="question-detail"),
]
