from django.urls import path

from . import views

urlpatterns = [
    path("me/", views.me, name="auth-me"),
    path("token/", views.token, name="auth-token"),
]
