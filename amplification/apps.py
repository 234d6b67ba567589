from django.apps import AppConfig


class AmplificationConfig(AppConfig):
    """The numerics (grid, fitting, scoring, pooling, allocation) import no Django; only tasks.py does."""

    name = "amplification"
