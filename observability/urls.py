from django.urls import re_path

from . import views

# With or without the trailing slash: probes are configured by hand, often without it.
urlpatterns = [
    re_path(r"^health/live/?$", views.live, name="health-live"),
    re_path(r"^health/ready/?$", views.ready, name="health-ready"),
    re_path(r"^metrics/?$", views.metrics, name="metrics"),
]
