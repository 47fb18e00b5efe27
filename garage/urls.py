from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.views import health

# The admin carries the garage's name, not "Django administration".
admin.site.site_header = settings.GARAGE_NOM
admin.site.site_title = settings.GARAGE_NOM
admin.site.index_title = "Gestion de l'atelier"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("atelier/", include("atelier.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/auth/", include("access.urls")),
    path("api/", include("api.urls")),
    path("health/", health, name="health"),
    path("", include("observability.urls")),
    path("", include("portail.urls")),  # the customer's pages (HTML, no account)
    path("", include("intake.urls")),
]
if settings.DEBUG:
    # Log in and out of the browsable API (only rendered with DEBUG on).
    urlpatterns.append(path("api-auth/", include("rest_framework.urls")))

handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
