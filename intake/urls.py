from django.urls import path

from . import views

urlpatterns = [
    path("reparation/", views.demande_post, name="intake-post"),
    path("reparation/<str:piece>/<str:duree>/", views.demande_get, name="intake-get"),
]
