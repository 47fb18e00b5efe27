"""Who may do what: the one place that maps each role to its permissions.

A role is a Django group of the same name. Its permissions are Django permissions,
`app_label.codename`: the model ones (`view_`, `add_`, `change_`, `delete_`) and the custom
ones a model declares in `Meta.permissions` (status transitions, receiving stock...).
Every API view checks them (access/permissions.py), and so does the admin.

To give a role a new right, add the permission here: the next `manage.py migrate` brings the
groups in line (migration 0001 created them; `sync_roles` runs after every migrate). Groups
are set to exactly this list, so a right given by hand in the admin to a group is removed;
give it to the user instead, or add it here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

ACCUEIL = "accueil"  # service adviser: clients, vehicles, repair requests and orders
MECANICIEN = "mecanicien"  # mechanic: reads repairs, moves them through the work states
MAGASINIER = "magasinier"  # storekeeper: parts and stock
ADMINISTRATEUR = "administrateur"  # everything, users and tokens included


def crud(model: str, app: str = "metier") -> tuple[str, ...]:
    return tuple(f"{app}.{action}_{model}" for action in ("view", "add", "change", "delete"))


ROLES: dict[str, tuple[str, ...]] = {
    ACCUEIL: (
        *crud("client"),
        *crud("voiture"),
        *crud("reparation"),
        *crud("lignepiece"),  # the order's lines: the quote
        *crud("lignemainoeuvre"),
        "metier.planifier_reparation",
        "metier.facturer_reparation",
        "metier.annuler_reparation",
        "metier.view_demande",
        "metier.add_demande",  # request repairs (the intake)
        "metier.view_piece",  # to quote a repair
        # Invoicing: issues invoices and records payments; reads credit notes (only an
        # administrator issues them).
        "metier.view_facture",
        "metier.add_facture",
        "metier.view_lignefacture",
        "metier.view_paiement",
        "metier.add_paiement",
        "metier.view_avoir",
        "metier.view_ligneavoir",
        # Refunds: pays back what a credit note (issued by an administrator) cancelled of a
        # paid invoice, at the till, as it takes payments.
        "metier.view_remboursement",
        "metier.add_remboursement",
        # Estimates: made from an order, sent to the customer as a link, withdrawn.
        "metier.view_devis",
        "metier.add_devis",
        "metier.envoyer_devis",
        "metier.annuler_devis",
        # Customers' consent to messages, cars' reminders, what customers were told.
        "metier.view_consentement",
        "metier.add_consentement",
        *crud("rappel"),
        "metier.view_notification",
    ),
    MECANICIEN: (
        "metier.view_reparation",
        "metier.view_lignepiece",
        "metier.view_lignemainoeuvre",
        "metier.view_voiture",
        "metier.view_piece",
        "metier.view_devis",  # what the customer approved (and declined)
        # The work states; starting a repair consumes its parts from the stock.
        "metier.demarrer_reparation",
        "metier.terminer_reparation",
    ),
    MAGASINIER: (
        *crud("piece"),
        "metier.receptionner_piece",  # receive stock
        "metier.view_reparation",  # which repairs wait for parts
        "metier.view_lignepiece",
    ),
    # `app.*`: every permission of that app, present and future.
    # axes: the failed logins, deleted to unlock an account at once.
    ADMINISTRATEUR: ("metier.*", "auth.*", "knox.*", "axes.*"),
}


def _resolve(permission_model: Any, names: tuple[str, ...], *, strict: bool) -> list[Any]:
    found = []
    for name in names:
        app_label, _, codename = name.partition(".")
        qs = permission_model.objects.filter(content_type__app_label=app_label)
        if codename != "*":
            qs = qs.filter(codename=codename)
        rows = list(qs)
        if not rows and strict and codename != "*":
            raise ImproperlyConfigured(f"access.roles: no permission named {name!r}")
        found.extend(rows)
    return found


def sync_roles(apps: Any = None, *, strict: bool = True) -> None:
    """Creates the groups and sets each one's permissions to exactly those of ROLES.

    `strict`: an unknown permission is an error (after migrate, every model exists); in a
    migration, where later models do not exist yet, it is skipped.
    """
    if apps is None:
        from django.contrib.auth.models import Group, Permission
    else:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    for role, names in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_resolve(Permission, names, strict=strict))


def sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate: contrib.auth creates each app's permissions as that app's signal goes
    out, so the groups are set once the last app's has gone (every permission exists)."""
    from django.apps import apps

    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if with_models and sender is with_models[-1]:
        sync_roles()
