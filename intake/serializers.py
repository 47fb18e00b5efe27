"""How a repair request (`Demande`) is read and written over HTTP: the intake's body and
its 202 answer, which `GET /api/demande/` (api/) shows as well. Here, with the intake, so
that the intake needs nothing from the API."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.urls import get_script_prefix
from django.urls import reverse as django_reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.reverse import reverse

from metier import limits
from metier.models import Demande

from . import strict


class DemandeSerializer(strict.ModelSerializer):
    url = serializers.SerializerMethodField()
    reparation = serializers.SerializerMethodField()
    reparation_url = serializers.SerializerMethodField()

    class Meta:
        model = Demande
        fields = [
            "id",
            "url",
            "piece",
            "duree",
            "voiture",
            "description",
            "statut",
            "motif",
            "reparation",
            "reparation_url",
            "cree_le",
            "publiee_le",
            "traitee_le",
        ]

    def get_url(self, obj: Demande) -> str:
        request = self.context.get("request")
        if request is None or request.GET:  # DRF keeps `?format=` in the links it makes
            return reverse("demande-detail", args=[obj.pk], request=request)
        # The intake's answer, on the hot path: the same URL, without resolving it each time.
        before, after = _demande_path(get_script_prefix())
        return request.build_absolute_uri(f"{before}{obj.pk}{after}")

    def get_reparation(self, obj: Demande) -> int | None:
        if obj.statut != Demande.Statut.TRAITEE:
            return None  # no repair yet: no query (the intake answers with this shape)
        reparation = getattr(obj, "reparation", None)  # reverse one-to-one: None when absent
        return reparation.pk if reparation is not None else None

    def get_reparation_url(self, obj: Demande) -> str | None:
        pk = self.get_reparation(obj)
        if pk is None:
            return None
        return reverse("reparation-detail", args=[pk], request=self.context.get("request"))

    def to_representation(self, obj: Demande) -> dict:
        """The same fields, written out directly: this is the intake's answer, on the hot path,
        and building a ModelSerializer's fields costs more than the rest of the request.
        (tests/unit/test_api.py checks it against the declared fields.)"""
        return {
            "id": str(obj.pk),
            "url": self.get_url(obj),
            "piece": obj.piece,
            "duree": obj.duree,
            "voiture": obj.voiture,
            "description": obj.description,
            "statut": obj.statut,
            "motif": obj.motif,
            "reparation": self.get_reparation(obj),
            "reparation_url": self.get_reparation_url(obj),
            "cree_le": _iso(obj.cree_le),
            "publiee_le": _iso(obj.publiee_le),
            "traitee_le": _iso(obj.traitee_le),
        }


_MARK = "00000000-0000-0000-0000-000000000000"


@cache
def _demande_path(_script_prefix: str) -> tuple[str, str]:
    """The detail path of a request, around its id (per script prefix, which `reverse`
    puts in front)."""
    before, after = django_reverse("demande-detail", args=[_MARK]).split(_MARK)
    return before, after


def _iso(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it: in the current time zone, ISO 8601, `Z` for UTC."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class IntakeSerializer(strict.Serializer):
    """The body of `POST /reparation/`: the seed's `{"piece": 1, "duree": 5}`, and optionally
    the car and the customer's complaint."""

    piece = serializers.IntegerField(min_value=limits.ID_MIN)
    duree = serializers.IntegerField(min_value=limits.DUREE_MIN, max_value=limits.DUREE_MAX)
    voiture = serializers.IntegerField(min_value=limits.ID_MIN, required=False)
    description = serializers.CharField(
        max_length=limits.DESCRIPTION_MAX, required=False, allow_blank=True
    )
