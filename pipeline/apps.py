from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        # The domain's events leave right after their commit (the relay catches the rest).
        from metier import evenements

        from .outbox import publish_events_after_commit

        evenements.on_commit_listener(publish_events_after_commit)
