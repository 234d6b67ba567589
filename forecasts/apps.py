from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    name = "forecasts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web and worker): forecasts.jobs sends them by name.
        from . import tasks  # noqa: F401
