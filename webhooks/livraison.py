"""The delivery loop: sends what is due (metier.services.webhooks.livraisons_dues), signed,
one after the other, and records each attempt. Runs as a thread of the `webhooks` process;
several processes may run it (a delivery is taken by one before it is sent)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections
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


def tour(limite: int = 100) -> int:
    """Sends what is due now; returns how many attempts were made."""
    done = 0
    lease = timedelta(seconds=settings.GARAGE_WEBHOOK_TIMEOUT + 30)
    failed: set[tuple[int, str]] = set()
    for livraison in list(service.livraisons_dues(limite=limite)):
        key = (livraison.abonnement_id, livraison.sujet)
        if key in failed:
            continue
        if not service.reserver(livraison=livraison, jusqu_a=timezone.now() + lease):
            continue
        if not livrer(livraison).reussi:
            failed.add(key)
        done += 1
    return done


def run(stop_event: threading.Event) -> None:
    """Until `stop_event`: rounds of deliveries, a short sleep when nothing was due."""
    log.info("webhook delivery loop started")
    while not stop_event.is_set():
        try:
            close_old_connections()
            done = tour()
        except DatabaseError:
            log.warning("webhook delivery loop: database unavailable", exc_info=True)
            done = 0
        except Exception:  # a bug must not stop deliveries for good
            log.exception("webhook delivery loop failed; going on")
            done = 0
        if not done:
            stop_event.wait(settings.GARAGE_WEBHOOK_POLL_S)
    log.info("webhook delivery loop stopped")
