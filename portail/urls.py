from django.urls import path

from . import views

app_name = "portail"
urlpatterns = [path("devis/<str:jeton>/", views.devis, name="devis")]
