"""The roles (accueil, mecanicien, magasinier, administrateur) as groups with their
permissions, from access/roles.py. Later changes to roles.py are applied after every
`migrate` by access.roles.sync_after_migrate; this migration makes them exist from the
first one."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from access.roles import sync_roles

    # Permissions are normally created after all migrations (post_migrate): create those of
    # the models that exist at this point, so that the groups get them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    sync_roles(apps, strict=False)


def remove_roles(apps, schema_editor):
    from access.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("knox", "0009_extend_authtoken_field"),
        ("metier", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
