from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the system checks, and the signal receivers of model-event triggers.
        from . import checks, triggers  # noqa: F401

        triggers.connect_model_events()
