from django.urls import path

from bench.peer import views

urlpatterns = [
    path("reparation/<int:piece>/<int:duree>/", views.by_path),
    path("reparation/", views.by_body),
    path("health/", views.health),
]
