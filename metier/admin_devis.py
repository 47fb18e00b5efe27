"""Estimates in the admin: read them with their lines and the customer's answer; make one from
an order (an action on repairs), send it (the link is shown once), withdraw it. Every write
goes through metier.services.devis, with the same permissions as the API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from . import documents, services
from .admin import DocumentAdmin, ReparationAdmin
from .models import Devis, DevisLigne


class DevisLigneInline(admin.TabularInline):
    model = DevisLigne
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "nature",
        "designation",
        "quantite",
        "prix_unitaire",
        "montant",
        "prix_reemploi",
        "decision",
        "choix_piec",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Devis)
class DevisAdmin(DocumentAdmin):
    list_display = [
        "numero",
        "reparation",
        "complementaire",
        "statut_affiche",
        "valide_jusqu_au",
        "total_ttc",
        "repondu_le",
        "telechargements",
    ]
    list_filter = ["statut", "complementaire", "cree_le"]
    search_fields = ["=numero", "=reparation__id", "signature"]
    list_select_related = ["reparation"]
    show_full_result_count = False
    inlines = [DevisLigneInline]
    readonly_fields = ["telechargements"] + [
        f.name for f in Devis._meta.fields if f.name != "jeton_hash"
    ]
    exclude = ["jeton_hash"]
    actions = ["envoyer", "annuler"]
    documents = {"pdf": lambda d: (documents.devis_pdf(d), "")}

    @admin.display(description="statut")
    def statut_affiche(self, obj: Devis) -> str:
        return obj.statut_effectif

    # Made from an order (the repairs' action), never edited: what was sent stays as sent.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_envoyer_permission(self, request) -> bool:
        return request.user.has_perm("metier.envoyer_devis")

    def has_annuler_permission(self, request) -> bool:
        return request.user.has_perm("metier.annuler_devis")

    @admin.action(description="Send: make the customer's link", permissions=["envoyer"])
    def envoyer(self, request, queryset):
        for devis in queryset.order_by("id"):
            try:
                devis, jeton = services.envoyer_devis(devis=devis, par=request.user)
            except services.Conflict as exc:
                self.message_user(request, f"{devis.numero}: {exc}", messages.WARNING)
                continue
            link = request.build_absolute_uri(reverse("portail:devis", args=[jeton]))
            self.message_user(
                request, f"{devis.numero}: send this link to the customer: {link}", messages.INFO
            )

    @admin.action(description="Withdraw (the link stops working)", permissions=["annuler"])
    def annuler(self, request, queryset):
        for devis in queryset.order_by("id"):
            try:
                services.annuler_devis(devis=devis, par=request.user)
            except services.Conflict as exc:
                self.message_user(request, f"{devis.numero}: {exc}", messages.WARNING)


@admin.action(description="Make an estimate from the selected repairs", permissions=["devis"])
def faire_devis(modeladmin, request, queryset):
    for reparation in queryset.order_by("id"):
        try:
            devis = services.create_devis(reparation=reparation, par=request.user)
        except (services.Conflict, ValidationError) as exc:
            modeladmin.message_user(request, f"#{reparation.pk}: {exc}", messages.WARNING)
            continue
        modeladmin.message_user(request, f"#{reparation.pk}: estimate {devis.numero} made")


# The repairs' admin gets the action here, so that admin.py stays as it was.
ReparationAdmin.actions = [*ReparationAdmin.actions, faire_devis]
ReparationAdmin.has_devis_permission = lambda self, request: request.user.has_perm(
    "metier.add_devis"
)
