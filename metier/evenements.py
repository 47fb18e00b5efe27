"""Writing domain events to the outbox, in the caller's transaction.

Every service that makes a change other services care about calls `enregistrer` inside its
own transaction: the event is committed with the change or not at all. The relay
(pipeline/outbox.py) publishes it; after the commit, the listeners registered here (the
pipeline's publisher) are told the ids, so that most events leave at once.

`sequence` grows from 1 per subject. It is computed as the subject's last sequence plus one,
under the lock the caller already holds on the subject's row (a repair, a part, an
estimate are locked by every writer); the unique key (sujet, sequence) refuses a
duplicate whatever happens.

The domain knows no broker: the contract (exchange, CloudEvents) lives in pipeline/events.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .models import Evenement

# Subjects and the events of each (routing key `<subject>.<event>`).
TYPES = (
    "reparation.demandee",
    "reparation.en_attente_pieces",
    "reparation.planifiee",
    "reparation.en_cours",
    "reparation.terminee",
    "reparation.facturee",
    "reparation.annulee",
    "devis.envoye",
    "devis.accepte",
    "devis.partiellement_accepte",
    "devis.refuse",
    "facture.emise",
    "paiement.enregistre",
    "piece.sous_seuil",
    "piece.recue",
    "rappel.du",
)

_listeners: list[Callable[[list[Evenement]], None]] = []


def on_commit_listener(listener: Callable[[list[Evenement]], None]) -> None:
    """Registers a function told, after each commit, the events that commit wrote (the
    pipeline's publisher). It must not raise; the relay publishes whatever it misses."""
    if listener not in _listeners:
        _listeners.append(listener)


def _plain(value: Any) -> Any:
    """JSON for the outbox: Decimal as a string (exact money), dates in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _after_commit(events: list[Evenement]) -> None:
    """Hands the events to the listeners once (and only if) the transaction commits."""
    if not _listeners or not events:
        return

    def tell() -> None:
        for listener in list(_listeners):
            listener(events)

    transaction.on_commit(tell)


def _check(type_: str) -> None:
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_!r} (add it to metier.evenements.TYPES)")


def enregistrer(*, sujet: str, type_: str, donnees: dict[str, Any]) -> Evenement:
    """Writes one event for `sujet` ("reparation/42") in the current transaction."""
    _check(type_)
    last = Evenement.objects.filter(sujet=sujet).aggregate(m=Max("sequence"))["m"] or 0
    event = Evenement.objects.create(
        sujet=sujet, type=type_, sequence=last + 1, donnees=_plain(donnees)
    )
    _after_commit([event])
    return event


def enregistrer_tous(items: Iterable[tuple[str, str, dict[str, Any]]]) -> list[Evenement]:
    """Writes many events with one bulk INSERT (the worker's batches): (sujet, type, données).

    Sequences are computed with one query for all the subjects concerned, and follow each
    other for a subject that appears more than once.
    """
    items = list(items)
    if not items:
        return []
    for _sujet, type_, _d in items:
        _check(type_)
    sujets = {s for s, _t, _d in items}
    last = dict(
        Evenement.objects.filter(sujet__in=sujets)
        .values("sujet")
        .annotate(m=Max("sequence"))
        .values_list("sujet", "m")
    )
    now = timezone.now()
    events = []
    for sujet, type_, donnees in items:
        last[sujet] = last.get(sujet, 0) + 1
        events.append(
            Evenement(
                sujet=sujet, type=type_, sequence=last[sujet], donnees=_plain(donnees), cree_le=now
            )
        )
    Evenement.objects.bulk_create(events)
    _after_commit(events)
    return events


def enregistrer_nouveaux(items: Iterable[tuple[str, str, dict[str, Any]]]) -> list[Evenement]:
    """Like `enregistrer_tous` for subjects that were just made in this transaction (new
    repair orders): their sequences start at 1, no query needed."""
    now = timezone.now()
    events = []
    seen: dict[str, int] = {}
    for sujet, type_, donnees in items:
        _check(type_)
        seen[sujet] = seen.get(sujet, 0) + 1
        events.append(
            Evenement(
                sujet=sujet, type=type_, sequence=seen[sujet], donnees=_plain(donnees), cree_le=now
            )
        )
    if events:
        Evenement.objects.bulk_create(events)
        _after_commit(events)
    return events
