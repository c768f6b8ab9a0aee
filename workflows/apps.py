from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the system checks, and the signal receivers of model-event triggers.
        from django.db.backends.signals import connection_created

        from . import checks, engine, triggers  # noqa: F401

        triggers.connect_model_events()
        connection_created.connect(engine.prepare_session, dispatch_uid="workflows.prepare_session")
