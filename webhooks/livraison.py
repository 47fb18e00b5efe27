"""The delivery loop: sends what is due (metier.services.webhooks.livraisons_dues), signed,
and records each attempt. Runs as a thread of the `webhooks` process, with a small pool of
senders (GARAGE_WEBHOOK_CONCURRENCY): one subscription's deliveries are sent by one sender
at a time, one after the other (so in order), and a slow or silent receiver holds up only
its own. Several processes may run it (a delivery is taken by one before it is sent)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from metier.models import LivraisonWebhook
from metier.services import webhooks as service

from . import envoi, signature

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"


def livrer(livraison: LivraisonWebhook) -> envoi.Resultat:
    """One attempt at one delivery (already taken), recorded; returns what happened."""
    abonnement = livraison.abonnement
    corps = livraison.evenement.corps.encode()
    headers = {
        "Content-Type": CONTENT_TYPE,
        **signature.entetes(abonnement.secret, livraison.evenement_id, timezone.now(), corps),
    }
    result = envoi.envoyer(abonnement.url, corps, headers, timeout=settings.GARAGE_WEBHOOK_TIMEOUT)
    if result.reussi:
        service.noter_succes(livraison=livraison, code=result.code, duree_ms=result.duree_ms)
    else:
        paused = service.noter_echec(
            livraison=livraison, code=result.code, erreur=result.erreur, duree_ms=result.duree_ms
        )
        log.info(
            "webhook %s to %s failed (attempt %d): %s",
            livraison.evenement_id,
            abonnement.url,
            livraison.tentatives + 1,
            result.erreur,
        )
        if paused:
            log.warning("webhook subscription %s paused", abonnement.pk)
    return result


def envoyer_lot(livraisons: Iterable[LivraisonWebhook]) -> int:
    """Sends these due deliveries one after the other; after a failure, the later ones of
    the same (subscription, subject) are left for after its retry. Returns the attempts."""
    lease = timedelta(seconds=settings.GARAGE_WEBHOOK_TIMEOUT + 30)
    failed: set[tuple[int, str]] = set()
    done = 0
    for livraison in livraisons:
        key = (livraison.abonnement_id, livraison.sujet)
        if key in failed:
            continue
        if not service.reserver(livraison=livraison, jusqu_a=timezone.now() + lease):
            continue  # another loop took it
        if not livrer(livraison).reussi:
            failed.add(key)
        done += 1
    return done


def tour(limite: int = 100) -> int:
    """Sends what is due now, in this thread; returns how many attempts were made."""
    return envoyer_lot(list(service.livraisons_dues(limite=limite)))


class Livreur:
    """The pool of senders: each round hands each subscription with something due, and no
    sender already on it, to a free sender."""

    def __init__(self, senders: int | None = None) -> None:
        self.senders = senders or settings.GARAGE_WEBHOOK_CONCURRENCY
        self.pool = ThreadPoolExecutor(self.senders, thread_name_prefix="webhook-sender")
        self.busy: set[int] = set()
        self.lock = threading.Lock()

    def tour(self, limite: int = 200) -> int:
        """Starts the sending of what is due; returns how many subscriptions got a sender."""
        with self.lock:
            busy = set(self.busy)
        if len(busy) >= self.senders:
            return 0
        groups: dict[int, list[LivraisonWebhook]] = {}
        for livraison in service.livraisons_dues(limite=limite, sauf_abonnements=busy):
            groups.setdefault(livraison.abonnement_id, []).append(livraison)
        started = 0
        for abonnement_id, group in groups.items():
            with self.lock:
                if len(self.busy) >= self.senders:
                    break
                self.busy.add(abonnement_id)
            self.pool.submit(self._send, abonnement_id, group)
            started += 1
        return started

    def _send(self, abonnement_id: int, group: list[LivraisonWebhook]) -> None:
        try:
            close_old_connections()
            envoyer_lot(group)
        except Exception:  # logged; the deliveries are due again once their lease ends
            log.exception("webhook sender failed on subscription %s", abonnement_id)
        finally:
            connection.close()  # this thread's own connection
            with self.lock:
                self.busy.discard(abonnement_id)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def run(stop_event: threading.Event) -> None:
    """Until `stop_event`: rounds of deliveries, a short sleep between them; then waits for
    the attempts under way."""
    log.info("webhook delivery loop started")
    livreur = Livreur()
    try:
        while not stop_event.is_set():
            try:
                close_old_connections()
                started = livreur.tour()
            except DatabaseError:
                log.warning("webhook delivery loop: database unavailable", exc_info=True)
                started = 0
            except Exception:  # a bug must not stop deliveries for good
                log.exception("webhook delivery loop failed; going on")
                started = 0
            stop_event.wait(0.02 if started else settings.GARAGE_WEBHOOK_POLL_S)
    finally:
        livreur.close()
        connection.close()
    log.info("webhook delivery loop stopped")
