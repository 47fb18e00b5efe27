"""Customers' consent, and the record of each notification (one per event and channel).

A notification is *claimed* before it is sent: its row (unique on event and channel) is
made, or taken over when a previous try failed or its lease ran out (the notifier that held
it died). Only the claimer sends; a second copy of the event finds the row and sends
nothing. The one window left is a crash after the message left and before `envoyee` is
committed: the lease then runs out and the message is sent again (README, Notifications).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import Canal, Client, Consentement, Notification, Reparation

N = Notification.Statut
# Final: nothing more will be tried for this event and channel.
FINALS = (N.ENVOYEE, N.SANS_CONSENTEMENT, N.SANS_DESTINATAIRE, N.ABANDONNEE)


@transaction.atomic
def enregistrer_consentement(
    *, client: Client, canal: str, accorde: bool, source: str, le: Any = None
) -> Consentement:
    """Records a customer's opt-in (or its withdrawal) for a channel, with when and how."""
    if canal not in Canal.values:
        raise ValidationError({"canal": [f"one of {', '.join(Canal.values)}"]})
    source = (source or "").strip()
    if not source:
        raise ValidationError({"source": ["say where the consent was given (RGPD)"]})
    consentement, _ = Consentement.objects.update_or_create(
        client=client,
        canal=canal,
        defaults={"accorde": bool(accorde), "source": source[:200], "le": le or timezone.now()},
    )
    return consentement


def a_consenti(client: Client | None, canal: str) -> bool:
    if client is None:
        return False
    return Consentement.objects.filter(client=client, canal=canal, accorde=True).exists()


@dataclass(frozen=True)
class Reclamation:
    notification: Notification
    claimed: bool  # True: this caller sends; False: done already, or held by another


def reclamer(
    *,
    evenement_id: uuid.UUID | str,
    type_: str,
    canal: str,
    client: Client | None,
    reparation: Reparation | None,
    destinataire: str,
    bail: float,
) -> Reclamation:
    """Claims the notification of an event on a channel (see the module's docstring)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            n = Notification.objects.create(
                evenement_id=evenement_id,
                type=type_,
                canal=canal,
                client=client,
                reparation=reparation,
                destinataire=destinataire[:254],
                tentatives=1,
                reclamee_le=now,
            )
            return Reclamation(n, True)
    except IntegrityError:
        pass
    taken = Notification.objects.filter(evenement_id=evenement_id, canal=canal).filter(
        Q(statut=N.ECHEC) | Q(statut=N.EN_COURS, reclamee_le__lt=now - timedelta(seconds=bail))
    )
    claimed = taken.update(statut=N.EN_COURS, reclamee_le=now, tentatives=F("tentatives") + 1)
    n = Notification.objects.get(evenement_id=evenement_id, canal=canal)
    return Reclamation(n, bool(claimed))


def terminer(*, notification: Notification, statut: str, erreur: str = "") -> None:
    """Records how a claimed notification ended: sent, refused (no consent, no address),
    failed (to be retried) or abandoned (dead-lettered)."""
    fields: dict[str, Any] = {"statut": statut, "erreur": erreur[:1000]}
    if statut == N.ENVOYEE:
        fields["envoyee_le"] = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(**fields)
