"""The notifier's batch handler: each event on `garage.notifier` becomes at most one message
per channel (email, SMS) for the customer concerned, sent only with their consent.

Per event and channel (metier.services.notifications):
1. claim the notification row (unique on event and channel): a second copy of the event,
   or an event whose message went already, finds it and sends nothing;
2. no consent, or no address / number: recorded so, nothing sent;
3. send; record `envoyee`. A failure is recorded `echec` and the event retried through the
   delay queues (only the channels not yet sent are tried again); at the last try it is
   recorded `abandonnee` and the consumer dead-letters the event with the reason.

A malformed event (not JSON, not a CloudEvent of ours) is dead-lettered with the reason.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.urls import reverse

from messaging.consumer import ACK, DeadLetter, Delivery, Outcome, Retry, TransientError
from metier.chiffrement import DEVIS_LIEN, dechiffrer
from metier.models import Client, Devis, Notification, Rappel, Reparation
from metier.services import notifications as records
from pipeline.events import TYPE_PREFIX

from . import sms
from .gabarits import Gabarit

log = logging.getLogger(__name__)
N = Notification.Statut


class Malformed(Exception):
    pass


def parse(body: bytes) -> dict[str, Any]:
    """The CloudEvent in a message body, checked enough to act on it."""
    try:
        ce = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"malformed event: not JSON ({exc})") from exc
    if not isinstance(ce, dict):
        raise Malformed("malformed event: not a JSON object")
    if ce.get("specversion") != "1.0":
        raise Malformed("malformed event: specversion is not 1.0")
    try:
        uuid.UUID(str(ce.get("id")))
    except ValueError as exc:
        raise Malformed("malformed event: id is not a UUID") from exc
    if not isinstance(ce.get("type"), str) or not ce["type"].startswith(TYPE_PREFIX):
        raise Malformed(f"malformed event: type must start with {TYPE_PREFIX}")
    if not isinstance(ce.get("data"), dict):
        raise Malformed("malformed event: data is not an object")
    return ce


def kind_of(type_: str, data: dict[str, Any]) -> str | None:
    """Which message an event calls for (None: none)."""
    key = type_.removeprefix(TYPE_PREFIX)
    if key == "reparation.terminee":
        return "voiture_prete"
    if key == "reparation.planifiee" and data.get("de") == Reparation.Statut.EN_ATTENTE_PIECES:
        return "pieces_arrivees"
    if key == "devis.envoye":
        return "devis_a_approuver"
    if key == "rappel.du":
        return "rappel_du"
    return None


def _euros(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):.2f}".replace(".", ",")
    except (InvalidOperation, ValueError):
        return str(value)


def _date(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


@dataclass(frozen=True)
class Cible:
    contexte: dict[str, Any]
    client: Client | None
    reparation: Reparation | None


def _car(voiture) -> dict[str, Any]:
    if voiture is None:
        return {"vehicule": "véhicule", "immatriculation": ""}
    vehicule = " ".join(x for x in (voiture.marque, voiture.modele) if x)
    return {"vehicule": vehicule, "immatriculation": voiture.immatriculation or ""}


def target(kind: str, data: dict[str, Any]) -> Cible | None:
    """The customer, the repair and the template's variables (None: the object is gone)."""
    common = {"garage": settings.GARAGE_NOM}
    if kind in ("voiture_prete", "pieces_arrivees"):
        rep = (
            Reparation.objects.select_related("voiture__client")
            .filter(pk=data.get("reparation"))
            .first()
        )
        if rep is None:
            return None
        voiture = rep.voiture
        client = voiture.client if voiture else None
        ctx = {**common, **_car(voiture), "reparation": rep.pk, "total_ttc": _euros(rep.total_ttc)}
        return Cible({**ctx, "client": client.nom if client else ""}, client, rep)
    if kind == "devis_a_approuver":
        devis = (
            Devis.objects.select_related("reparation__voiture__client")
            .filter(pk=data.get("devis"))
            .first()
        )
        if devis is None:
            return None
        rep = devis.reparation
        voiture = rep.voiture
        client = voiture.client if voiture else None
        jeton = dechiffrer(data["jeton_chiffre"], DEVIS_LIEN)
        lien = settings.GARAGE_URL_PUBLIQUE + reverse("portail:devis", args=[jeton])
        ctx = {
            **common,
            **_car(voiture),
            "client": client.nom if client else "",
            "numero": devis.numero,
            "lien": lien,
            "total_ttc": _euros(data.get("total_ttc")),
            "valide_jusqu_au": _date(data.get("valide_jusqu_au")),
        }
        return Cible(ctx, client, rep)
    if kind == "rappel_du":
        rappel = Rappel.objects.select_related("voiture__client").filter(pk=data.get("rappel"))
        rappel = rappel.first()
        if rappel is None:
            return None
        voiture = rappel.voiture
        client = voiture.client
        if data.get("raison") == "kilometrage":
            echeance = f"à {data.get('echeance_km')} km (vous en êtes à {data.get('kilometrage')})"
        else:
            echeance = f"depuis le {_date(data.get('echeance'))}"
        ctx = {
            **common,
            **_car(voiture),
            "client": client.nom if client else "",
            "nature": rappel.nature,
            "echeance": echeance,
            "kilometrage": data.get("kilometrage"),
        }
        return Cible(ctx, client, None)
    return None


def _address(client: Client | None, canal: str) -> str:
    if client is None:
        return ""
    return client.email if canal == "email" else client.telephone


def send_email(*, to: str, objet: str, corps: str, evenement_id: str, reference: str) -> None:
    EmailMessage(
        subject=objet,
        body=corps,
        to=[to],
        headers={"X-Garage-Evenement": evenement_id, "X-Garage-Notification": reference},
    ).send(fail_silently=False)


class Notifier:
    """The handler, with its templates (checked at start-up) and its SMS provider."""

    def __init__(
        self,
        gabarits: dict[tuple[str, str], Gabarit],
        sms_provider: sms.SmsProvider,
        *,
        retry_limit: int | None = None,
        bail: float | None = None,
        email: Callable[..., None] = send_email,
    ) -> None:
        self.gabarits = gabarits
        self.sms = sms_provider
        self.retry_limit = settings.GARAGE_RETRY_LIMIT if retry_limit is None else retry_limit
        self.bail = settings.GARAGE_NOTIFIER_LEASE if bail is None else bail
        self.email = email

    def __call__(self, batch: list[Delivery]) -> list[Outcome]:
        if not connection.in_atomic_block:  # (a test's transaction is left alone)
            close_old_connections()  # a long-lived process: drop a connection gone stale
        try:
            return [self.one(d) for d in batch]
        except (OperationalError, InterfaceError) as exc:
            try:
                connection.close()
            except Exception:
                log.debug("closing a broken database connection", exc_info=True)
            raise TransientError(f"database: {exc.__class__.__name__}: {exc}") from exc

    def one(self, delivery: Delivery) -> Outcome:
        try:
            ce = parse(delivery.body)
        except Malformed as exc:
            return DeadLetter(str(exc))
        kind = kind_of(ce["type"], ce["data"])
        if kind is None:
            return ACK
        try:
            cible = target(kind, ce["data"])
        except KeyError as exc:
            return DeadLetter(f"malformed event: data lacks {exc}")
        if cible is None:
            log.info("event %s: its object is gone, nothing to tell", ce["id"])
            return ACK
        last_try = delivery.attempt >= self.retry_limit
        failures = []
        for canal in ("email", "sms"):
            error = self._channel(ce, kind, canal, cible, last_try)
            if error:
                failures.append(f"{canal}: {error}")
        return Retry("; ".join(failures)) if failures else ACK

    def _channel(self, ce: dict, kind: str, canal: str, cible: Cible, last_try: bool) -> str:
        """Sends on one channel if it is this caller's to send; the error, or ""."""
        destinataire = _address(cible.client, canal)
        claim = records.reclamer(
            evenement_id=ce["id"],
            type_=ce["type"].removeprefix(TYPE_PREFIX),
            canal=canal,
            client=cible.client,
            reparation=cible.reparation,
            destinataire=destinataire,
            bail=self.bail,
        )
        n = claim.notification
        if not claim.claimed:
            if n.statut == N.EN_COURS:
                # Another notifier holds it (or held it and died: its lease runs out).
                return "held by another notifier, lease not over"
            return ""
        if not records.a_consenti(cible.client, canal):
            records.terminer(notification=n, statut=N.SANS_CONSENTEMENT)
            return ""
        if not destinataire:
            records.terminer(notification=n, statut=N.SANS_DESTINATAIRE)
            return ""
        objet, corps = self.gabarits[kind, canal].rendre(cible.contexte)
        try:
            if canal == "email":
                self.email(
                    to=destinataire,
                    objet=objet,
                    corps=corps,
                    evenement_id=ce["id"],
                    reference=str(n.pk),
                )
            else:
                self.sms.send(numero=destinataire, texte=corps, reference=f"{ce['id']}-sms")
        except Exception as exc:  # SMTP, provider, network: all mean "try again later"
            reason = f"{exc.__class__.__name__}: {exc}"
            statut = N.ABANDONNEE if last_try else N.ECHEC
            records.terminer(notification=n, statut=statut, erreur=reason)
            log.warning("notification %s (%s) failed: %s", n.pk, canal, reason)
            return reason
        # The window: the message left, and a crash right here sends it again (README).
        records.terminer(notification=n, statut=N.ENVOYEE)
        return ""
