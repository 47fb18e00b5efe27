from django.apps import AppConfig


class MetierConfig(AppConfig):
    name = "metier"
    verbose_name = "Atelier"
