"""The staff's pages (admin, workshop board) in the garage's language; the API stays as is."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

STAFF_PREFIXES = ("/admin/", "/atelier/")


class StaffLanguageMiddleware:
    """Activates GARAGE_LANGUE (default `fr`) for the admin and the board, so that Django's
    own words there ("Ajouter", "Enregistrer") match the French labels. The API's error
    messages keep LANGUAGE_CODE: clients match on them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = settings.GARAGE_LANGUE
        if not language or not request.path_info.startswith(STAFF_PREFIXES):
            return self.get_response(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
            # Template responses render here, still in the staff's language.
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        response.headers.setdefault("Content-Language", language)
        return response


class ContentSecurityPolicyMiddleware:
    """Every HTML page (admin, API docs, workshop board, customer pages) says where its
    scripts, styles and images may come from: this site only, no inline script but the
    page's own (`<script nonce="{{ request.csp_nonce }}">`), no framing, forms post here.
    GARAGE_CONTENT_SECURITY_POLICY replaces the policy (`{nonce}` is the page's nonce)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import secrets

        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if html and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.GARAGE_CONTENT_SECURITY_POLICY.format(
                nonce=nonce
            )
        return response
