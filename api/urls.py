from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("piece", views.PieceViewSet, basename="piece")
router.register("reparation", views.ReparationViewSet, basename="reparation")
router.register("voiture", views.VoitureViewSet, basename="voiture")
router.register("demande", views.DemandeViewSet, basename="demande")

urlpatterns = [path("", include(router.urls))]
