from django.apps import AppConfig


class AtelierConfig(AppConfig):
    """The live workshop board: server-rendered pages for the staff (session login)."""

    name = "atelier"
    verbose_name = "Atelier"
