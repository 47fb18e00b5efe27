from django.urls import path

from . import views

app_name = "atelier"
urlpatterns = [
    path("", views.tableau, name="tableau"),
    path("fragment/", views.fragment, name="fragment"),
    path("reparation/<int:pk>/<str:action>/", views.transition, name="transition"),
    path("piece/<int:pk>/reception/", views.reception, name="reception"),
]
