from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("piece", views.PieceViewSet, basename="piece")
router.register("reparation", views.ReparationViewSet, basename="reparation")
router.register("voiture", views.VoitureViewSet, basename="voiture")
router.register("demande", views.DemandeViewSet, basename="demande")
router.register("client", views.ClientViewSet, basename="client")
router.register("ligne-piece", views.LignePieceViewSet, basename="ligne-piece")
router.register("ligne-main-oeuvre", views.LigneMainOeuvreViewSet, basename="ligne-main-oeuvre")

urlpatterns = [path("", include(router.urls))]
