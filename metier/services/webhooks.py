"""Webhook subscriptions and their deliveries: the rules, without the network.

The `webhooks` app does the I/O (the queue, DNS, HTTP); these functions decide what is
recorded, what is due, and what a failure does:

- an event is recorded once (its CloudEvent `id`), with one delivery per subscription whose
  patterns match its routing key, unique per (subscription, event): a redelivered event
  adds nothing;
- per subscription and subject, deliveries go out in the order of the event's `sequence`:
  one whose earlier delivery is still pending waits for it, and one whose predecessor
  (`sequence - 1`) has not even arrived yet (while earlier ones of its subject have) waits
  up to GARAGE_WEBHOOK_GAP_WAIT_S for it;
- a failure schedules the next try (exponential backoff, capped, with jitter) in the
  database; a subscription failing for GARAGE_WEBHOOK_PAUSE_AFTER_S with at least
  GARAGE_WEBHOOK_PAUSE_FAILURES failures in a row, or answered 410 Gone, is paused. Its
  deliveries are kept (and still recorded while paused): resuming sends them, in order.
"""

from __future__ import annotations

import base64
import random
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from ..chiffrement import chiffrer, rechiffrer
from ..models_webhooks import (
    AbonnementWebhook,
    EvenementWebhook,
    LivraisonWebhook,
    TentativeWebhook,
)
from .common import save

SECRET_PREFIX = "whsec_"
MAX_TYPES = 50
_WORD = re.compile(r"^(\*|#|[a-z0-9_]+)$")


# --- Patterns on routing keys ---------------------------------------------------------------
def correspond(motif: str, cle: str) -> bool:
    """A topic pattern against a routing key, as RabbitMQ matches them: words separated by
    dots, `*` one word, `#` zero or more words."""
    return _match(motif.split("."), cle.split("."))


def _match(motif: list[str], mots: list[str]) -> bool:
    if not motif:
        return not mots
    head, rest = motif[0], motif[1:]
    if head == "#":
        return any(_match(rest, mots[i:]) for i in range(len(mots) + 1))
    if not mots:
        return False
    return (head == "*" or head == mots[0]) and _match(rest, mots[1:])


def valider_types(types: Any) -> list[str]:
    """The subscription's patterns: a non-empty list of `word.word`, words of a-z, 0-9, _,
    or `*`, `#`. Raises ValidationError on `types`."""
    if not isinstance(types, list) or not types:
        raise ValidationError({"types": ["a non-empty list of patterns, e.g. ['reparation.*']"]})
    if len(types) > MAX_TYPES:
        raise ValidationError({"types": [f"at most {MAX_TYPES} patterns"]})
    out = []
    for motif in types:
        if not isinstance(motif, str) or not motif or len(motif) > 100:
            raise ValidationError({"types": [f"not a pattern: {motif!r}"]})
        if not all(_WORD.match(mot) for mot in motif.split(".")):
            raise ValidationError(
                {"types": [f"{motif!r}: words of a-z, 0-9 and _, or * and #, between dots"]}
            )
        if motif not in out:
            out.append(motif)
    return out


def abonne_a(abonnement: AbonnementWebhook, cle: str) -> bool:
    return any(correspond(motif, cle) for motif in abonnement.types)


# --- Subscriptions ----------------------------------------------------------------------------
def nouveau_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def create_abonnement(*, url: str, types: Any, description: str = "") -> AbonnementWebhook:
    """A new subscription, active, with a new secret (shown to its creator once).

    The URL's address is checked by the caller (webhooks.adresses: it needs DNS)."""
    return save(
        AbonnementWebhook(
            url=url,
            types=valider_types(types),
            description=description,
            secret_chiffre=chiffrer(nouveau_secret()),
        )
    )


def update_abonnement(*, abonnement: AbonnementWebhook, **fields: Any) -> AbonnementWebhook:
    allowed = {"url", "types", "description"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: ["cannot be changed"] for name in sorted(unknown)})
    if "types" in fields:
        fields["types"] = valider_types(fields["types"])
    for name, value in fields.items():
        setattr(abonnement, name, value)
    return save(abonnement)


@transaction.atomic
def rechiffrer_secrets() -> int:
    """Every secret encrypted again with the current DJANGO_SECRET_KEY (after a rotation,
    before the old key leaves SECRET_KEY_FALLBACKS); returns how many."""
    count = 0
    for abonnement in AbonnementWebhook.objects.select_for_update():
        abonnement.secret_chiffre = rechiffrer(abonnement.secret_chiffre)
        abonnement.save(update_fields=["secret_chiffre"])
        count += 1
    return count


def delete_abonnement(*, abonnement: AbonnementWebhook) -> None:
    abonnement.delete()  # its deliveries and their attempts go with it


def mettre_en_pause(
    *, abonnement: AbonnementWebhook, motif: str, maintenant: datetime | None = None
) -> AbonnementWebhook:
    abonnement.statut = AbonnementWebhook.Statut.EN_PAUSE
    abonnement.motif_pause = motif[:300]
    abonnement.en_pause_depuis = maintenant or timezone.now()
    abonnement.save(update_fields=["statut", "motif_pause", "en_pause_depuis", "modifie_le"])
    return abonnement


@transaction.atomic
def reprendre(*, abonnement: AbonnementWebhook) -> AbonnementWebhook:
    """Active again: its failure count starts over, its pending deliveries are due now."""
    now = timezone.now()
    abonnement.statut = AbonnementWebhook.Statut.ACTIF
    abonnement.motif_pause = ""
    abonnement.en_pause_depuis = None
    abonnement.echecs_consecutifs = 0
    abonnement.en_echec_depuis = None
    abonnement.save()
    abonnement.livraisons.filter(statut=LivraisonWebhook.Statut.EN_ATTENTE).update(
        prochain_essai=now
    )
    return abonnement


# --- Recording events -------------------------------------------------------------------------
@dataclass(frozen=True)
class EvenementRecu:
    """An event taken off the queue, already checked against the contract (EVENTS)."""

    id: str
    cle: str
    sujet: str
    sequence: int
    corps: str


@transaction.atomic
def enregistrer_evenements(evenements: list[EvenementRecu]) -> int:
    """Records the events some subscription wants (those already known are skipped) and one
    delivery for each subscription, active or paused, whose patterns match; returns how
    many deliveries are new. One transaction: the caller acks the messages after it."""
    if not evenements:
        return 0
    abonnements = list(AbonnementWebhook.objects.all())
    # An event no subscription wants is not kept: most events of a busy garage (every
    # repair's planning) would otherwise be copied here for nobody.
    wanted = [e for e in evenements if any(abonne_a(a, e.cle) for a in abonnements)]
    if not wanted:
        return 0
    ids = {e.id for e in wanted}
    known = set(EvenementWebhook.objects.filter(id__in=ids).values_list("id", flat=True))
    now = timezone.now()
    fresh: dict[str, EvenementRecu] = {}
    for e in wanted:
        if e.id not in known and e.id not in fresh:
            fresh[e.id] = e
    EvenementWebhook.objects.bulk_create(
        [
            EvenementWebhook(
                id=e.id, cle=e.cle, sujet=e.sujet, sequence=e.sequence, corps=e.corps, recu_le=now
            )
            for e in fresh.values()
        ],
        ignore_conflicts=True,  # another webhooks process recorded it meanwhile
    )
    # Only new events get deliveries (a known one got them in the transaction that recorded
    # it); two webhooks processes racing on one event are kept apart by the unique constraint.
    livraisons = [
        LivraisonWebhook(
            abonnement=a,
            evenement_id=e.id,
            sujet=e.sujet,
            sequence=e.sequence,
            prochain_essai=now,
            cree_le=now,
        )
        for e in fresh.values()
        for a in abonnements
        if abonne_a(a, e.cle)
    ]
    LivraisonWebhook.objects.bulk_create(livraisons, ignore_conflicts=True)
    return len(livraisons)


# --- What is due, and what an attempt did -------------------------------------------------------
def livraisons_dues(
    *,
    maintenant: datetime | None = None,
    limite: int = 100,
    attente_trou: float | None = None,
    sauf_abonnements: Iterable[int] = (),
) -> QuerySet[LivraisonWebhook]:
    """Deliveries to send now: pending, of an active subscription (not one of
    `sauf_abonnements`), their time come, first of their (subscription, subject), and not
    waiting for a missing predecessor event."""
    now = maintenant or timezone.now()
    gap = attente_trou if attente_trou is not None else settings.GARAGE_WEBHOOK_GAP_WAIT_S
    pending = LivraisonWebhook.Statut.EN_ATTENTE
    earlier_pending = LivraisonWebhook.objects.filter(
        abonnement_id=OuterRef("abonnement_id"),
        sujet=OuterRef("sujet"),
        statut=pending,
        sequence__lt=OuterRef("sequence"),
    )
    earlier_event = EvenementWebhook.objects.filter(
        sujet=OuterRef("sujet"), sequence__lt=OuterRef("sequence")
    )
    predecessor = EvenementWebhook.objects.filter(
        sujet=OuterRef("sujet"), sequence=OuterRef("sequence") - 1
    )
    waiting_for_gap = (
        Q(Exists(earlier_event))
        & ~Q(Exists(predecessor))
        & Q(evenement__recu_le__gt=now - timedelta(seconds=gap))
    )
    return (
        LivraisonWebhook.objects.filter(
            statut=pending,
            abonnement__statut=AbonnementWebhook.Statut.ACTIF,
            prochain_essai__lte=now,
        )
        .exclude(abonnement_id__in=list(sauf_abonnements))
        .exclude(Exists(earlier_pending))
        .exclude(waiting_for_gap)
        .select_related("abonnement", "evenement")
        .order_by("prochain_essai", "id")[:limite]
    )


def reserver(*, livraison: LivraisonWebhook, jusqu_a: datetime) -> bool:
    """Takes the delivery for one attempt (another delivery loop will not see it as due
    until `jusqu_a`); False when another loop took it first."""
    taken = LivraisonWebhook.objects.filter(
        pk=livraison.pk,
        statut=LivraisonWebhook.Statut.EN_ATTENTE,
        prochain_essai=livraison.prochain_essai,
    ).update(prochain_essai=jusqu_a)
    if taken:
        livraison.prochain_essai = jusqu_a
    return bool(taken)


def delai_avant_essai(
    tentatives: int, *, base: float | None = None, plafond: float | None = None
) -> float:
    """Seconds to wait after the `tentatives`-th failure: base × 2^(n-1), capped, the last
    fifth left to chance so that many deliveries failing together do not come back at once."""
    base = settings.GARAGE_WEBHOOK_RETRY_BASE_S if base is None else base
    plafond = settings.GARAGE_WEBHOOK_RETRY_CAP_S if plafond is None else plafond
    delay = min(plafond, base * 2 ** min(max(0, tentatives - 1), 40))  # 2^40 s: capped anyway
    return delay * random.uniform(0.8, 1.0)


@transaction.atomic
def purger(*, avant: datetime) -> tuple[int, int]:
    """Forgets deliveries delivered before `avant`, then the events left with no delivery
    that were received before it; returns (deliveries, events) removed. Pending deliveries
    are never removed (a paused subscription keeps them until it resumes or is deleted)."""
    _, livraisons = LivraisonWebhook.objects.filter(
        statut=LivraisonWebhook.Statut.LIVREE, livree_le__lt=avant
    ).delete()
    _, evenements = (
        EvenementWebhook.objects.filter(recu_le__lt=avant)
        .exclude(Exists(LivraisonWebhook.objects.filter(evenement_id=OuterRef("pk"))))
        .delete()
    )
    # (the counts per model: a delivery's attempts go with it)
    return (
        livraisons.get(LivraisonWebhook._meta.label, 0),
        evenements.get(EvenementWebhook._meta.label, 0),
    )


@transaction.atomic
def noter_succes(
    *, livraison: LivraisonWebhook, code: int, duree_ms: int, maintenant: datetime | None = None
) -> None:
    now = maintenant or timezone.now()
    TentativeWebhook.objects.create(livraison=livraison, le=now, code=code, duree_ms=duree_ms)
    LivraisonWebhook.objects.filter(pk=livraison.pk).update(
        statut=LivraisonWebhook.Statut.LIVREE,
        tentatives=F("tentatives") + 1,
        derniere_tentative_le=now,
        dernier_code=code,
        derniere_erreur="",
        livree_le=now,
    )
    AbonnementWebhook.objects.filter(pk=livraison.abonnement_id).filter(
        Q(echecs_consecutifs__gt=0) | Q(en_echec_depuis__isnull=False)
    ).update(echecs_consecutifs=0, en_echec_depuis=None)


@transaction.atomic
def noter_echec(
    *,
    livraison: LivraisonWebhook,
    code: int | None,
    erreur: str,
    duree_ms: int,
    maintenant: datetime | None = None,
) -> bool:
    """Records a failed attempt, schedules the next, and pauses the subscription when the
    rule says so (module doc); returns whether it was paused now."""
    now = maintenant or timezone.now()
    erreur = erreur[:300]
    TentativeWebhook.objects.create(
        livraison=livraison, le=now, code=code, erreur=erreur, duree_ms=duree_ms
    )
    tentatives = livraison.tentatives + 1
    LivraisonWebhook.objects.filter(pk=livraison.pk).update(
        tentatives=F("tentatives") + 1,
        derniere_tentative_le=now,
        dernier_code=code,
        derniere_erreur=erreur,
        prochain_essai=now + timedelta(seconds=delai_avant_essai(tentatives)),
    )
    abonnement = AbonnementWebhook.objects.select_for_update().get(pk=livraison.abonnement_id)
    abonnement.echecs_consecutifs += 1
    abonnement.en_echec_depuis = abonnement.en_echec_depuis or now
    abonnement.save(update_fields=["echecs_consecutifs", "en_echec_depuis", "modifie_le"])
    if abonnement.statut != AbonnementWebhook.Statut.ACTIF:
        return False
    if code == 410:
        mettre_en_pause(
            abonnement=abonnement,
            motif="the receiver answered 410 Gone: it wants no more deliveries",
            maintenant=now,
        )
        return True
    failing_for = (now - abonnement.en_echec_depuis).total_seconds()
    if (
        abonnement.echecs_consecutifs >= settings.GARAGE_WEBHOOK_PAUSE_FAILURES
        and failing_for >= settings.GARAGE_WEBHOOK_PAUSE_AFTER_S
    ):
        mettre_en_pause(
            abonnement=abonnement,
            motif=(
                f"{abonnement.echecs_consecutifs} failures in a row over "
                f"{failing_for / 3600:.1f} h; last: {erreur or code}"
            ),
            maintenant=now,
        )
        return True
    return False
