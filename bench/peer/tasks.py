"""The peer's one task: the repair, in one transaction, at most once per task id."""

from datetime import UTC, datetime

from celery import shared_task
from django.db import transaction

from bench.peer.models import Demande, Piece, Reparation


@shared_task(acks_late=True, task_reject_on_worker_lost=True, ignore_result=True, bind=True)
def make_repair(self, piece: int, duree: int, accepted: float) -> str:
    with transaction.atomic():
        if Demande.objects.filter(pk=self.request.id).exists():
            return "duplicate"  # redelivered after a lost ack: already done
        if not Piece.objects.filter(pk=piece).exists():
            return "unknown part"
        demande = Demande.objects.create(
            id=self.request.id,
            piece=piece,
            duree=duree,
            cree_le=datetime.fromtimestamp(accepted, tz=UTC),
        )
        Reparation.objects.create(demande=demande, piece_id=piece, duree=duree)
    return "done"
