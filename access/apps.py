from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access: roles and tokens"

    def ready(self) -> None:
        from . import authentication, checks, roles  # noqa: F401  (registrations)

        authentication.connect_signals()
        # After every `migrate`, the groups hold exactly what roles.py says: adding a
        # permission to a role is a code change, applied by the next migrate.
        post_migrate.connect(roles.sync_after_migrate, dispatch_uid="access.sync_roles")
