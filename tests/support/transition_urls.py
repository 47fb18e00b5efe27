"""A stand-in endpoint with status-transition actions, to test the permission machinery
before the domain has its own (issue 5): the real URLconf plus `/api/essai/`."""

from django.urls import include, path
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from access.permissions import require_permission
from api.serializers import ReparationSerializer
from api.urls import Router
from garage.urls import urlpatterns as real_urlpatterns
from metier import selectors

# What each target status needs, when one action takes the status as data.
TRANSITIONS = {"planifiee": "metier.change_reparation", "en_cours": "metier.demarrer_reparation"}


class EssaiViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = selectors.reparations()
    serializer_class = ReparationSerializer
    action_permissions = {"demarrer": "metier.demarrer_reparation", "transition": ()}

    @action(detail=True, methods=["post"])
    def demarrer(self, request, pk=None):
        return Response({"id": self.get_object().pk, "statut": "en_cours"})

    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        target = request.data.get("statut")
        if target not in TRANSITIONS:
            return Response({"statut": ["unknown status"]}, status=400)
        require_permission(request.user, TRANSITIONS[target])
        return Response({"id": self.get_object().pk, "statut": target})

    @action(detail=True, methods=["post"])
    def oubliee(self, request, pk=None):
        """An action whose permission nobody declared: refused to everyone."""
        return Response({"done": True})


router = Router()
router.register("essai", EssaiViewSet, basename="essai")
urlpatterns = [path("api/", include(router.urls)), *real_urlpatterns]
