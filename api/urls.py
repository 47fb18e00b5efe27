from django.urls import include, path
from rest_framework import routers

from . import views


class APIRootView(routers.APIRootView):
    required_permissions = ()  # any authenticated user: it only lists the endpoints


class Router(routers.DefaultRouter):
    APIRootView = APIRootView


router = Router()
router.register("piece", views.PieceViewSet, basename="piece")
router.register("reparation", views.ReparationViewSet, basename="reparation")
router.register("voiture", views.VoitureViewSet, basename="voiture")
router.register("demande", views.DemandeViewSet, basename="demande")
router.register("client", views.ClientViewSet, basename="client")
router.register("ligne-piece", views.LignePieceViewSet, basename="ligne-piece")
router.register("ligne-main-oeuvre", views.LigneMainOeuvreViewSet, basename="ligne-main-oeuvre")
router.register("facture", views.FactureViewSet, basename="facture")
router.register("avoir", views.AvoirViewSet, basename="avoir")
router.register("paiement", views.PaiementViewSet, basename="paiement")
router.register("remboursement", views.RemboursementViewSet, basename="remboursement")
router.register("devis", views.DevisViewSet, basename="devis")

urlpatterns = [path("", include(router.urls))]
