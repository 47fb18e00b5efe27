"""The same kind of rows as the app's pipeline writes: a request and its repair."""

from django.db import models


class Piece(models.Model):
    nom = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.nom


class Demande(models.Model):
    # The Celery task id: a redelivered task finds its request and does nothing twice.
    id = models.UUIDField(primary_key=True)
    piece = models.BigIntegerField()
    duree = models.IntegerField()
    # When the view accepted it (before publishing), as the app's Demande.cree_le.
    cree_le = models.DateTimeField()
    traitee_le = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.id)


class Reparation(models.Model):
    demande = models.OneToOneField(Demande, on_delete=models.PROTECT)
    piece = models.ForeignKey(Piece, on_delete=models.PROTECT)
    duree = models.IntegerField()
    cree_le = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.piece_id} {self.duree}h"
