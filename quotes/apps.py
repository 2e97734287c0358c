from django.apps import AppConfig


class QuotesConfig(AppConfig):
    name = "quotes"

    def ready(self):
        # Celery's autodiscovery imports only quotes/tasks.py; the expiry task lives beside it.
        from . import tasks_expiry  # noqa: F401
