"""The admin of webhook subscriptions and their delivery log.

A subscription is created and changed through the domain's functions, its URL checked by
the SSRF guard; its secret is shown once, in the message after creation, never in a form.
A paused subscription says so in the list (with why and since when) and on its page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from metier.models import AbonnementWebhook, EvenementWebhook, LivraisonWebhook, TentativeWebhook
from metier.services import webhooks as service

from .adresses import AdresseRefusee, verifier_url


class AbonnementForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = AbonnementWebhook
        fields = ["url", "types", "description"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            verifier_url(url)
        except AdresseRefusee as exc:
            raise ValidationError(str(exc)) from exc
        return url

    def clean_types(self) -> list[str]:
        try:
            return service.valider_types(self.cleaned_data["types"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["types"]) from exc


@admin.register(AbonnementWebhook)
class AbonnementWebhookAdmin(admin.ModelAdmin):
    form = AbonnementForm
    list_display = ["id", "url", "types", "etat", "echecs_consecutifs", "en_echec_depuis"]
    list_filter = ["statut"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "etat",
        "echecs_consecutifs",
        "en_echec_depuis",
        "livraisons_log",
        "cree_le",
        "modifie_le",
    ]
    actions = ["mettre_en_pause", "reprendre"]

    def get_fields(self, request, obj=None):
        fields = ["url", "types", "description"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description="état", ordering="statut")
    def etat(self, obj: AbonnementWebhook) -> str:
        if obj.statut == AbonnementWebhook.Statut.ACTIF:
            return "actif"
        since = f"{obj.en_pause_depuis:%Y-%m-%d %H:%M}" if obj.en_pause_depuis else "?"
        return format_html(
            '<strong style="color:#ba2121">EN PAUSE</strong> depuis {} : {}',
            since,
            obj.motif_pause or "—",
        )

    @admin.display(description="livraisons")
    def livraisons_log(self, obj: AbonnementWebhook) -> str:
        url = reverse("admin:metier_livraisonwebhook_changelist")
        pending = obj.livraisons.filter(statut=LivraisonWebhook.Statut.EN_ATTENTE).count()
        return format_html(
            '<a href="{}?abonnement__id__exact={}">journal des livraisons</a> ({} en attente)',
            url,
            obj.pk,
            pending,
        )

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ("url", "types", "description")}
        if change:
            service.update_abonnement(abonnement=obj, **data)
            return
        saved = service.create_abonnement(**data)
        obj.pk = saved.pk
        messages.warning(
            request,
            f"Secret de signature (affiché une seule fois, à conserver) : {saved.secret}",
        )

    def delete_model(self, request, obj):
        service.delete_abonnement(abonnement=obj)

    @admin.action(description="Mettre en pause", permissions=["change"])
    def mettre_en_pause(self, request, queryset):
        for abonnement in queryset:
            service.mettre_en_pause(
                abonnement=abonnement, motif=f"mis en pause par {request.user.get_username()}"
            )
        self.message_user(request, f"{queryset.count()} abonnement(s) en pause.")

    @admin.action(
        description="Reprendre (envoie ce qui attend, dans l'ordre)", permissions=["change"]
    )
    def reprendre(self, request, queryset):
        for abonnement in queryset:
            service.reprendre(abonnement=abonnement)
        self.message_user(request, f"{queryset.count()} abonnement(s) repris.")


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TentativeInline(ReadOnlyMixin, admin.TabularInline):
    model = TentativeWebhook
    extra = 0
    can_delete = False
    fields = readonly_fields = ["le", "code", "erreur", "duree_ms"]


@admin.register(LivraisonWebhook)
class LivraisonWebhookAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "abonnement_etat",
        "evenement",
        "sujet",
        "sequence",
        "statut",
        "tentatives",
        "dernier_code",
        "prochain",
        "derniere_erreur",
    ]
    list_filter = ["statut", "abonnement"]
    search_fields = ["sujet", "evenement__id"]
    list_select_related = ["abonnement", "evenement"]
    inlines = [TentativeInline]
    fields = readonly_fields = [
        "abonnement_etat",
        "evenement",
        "sujet",
        "sequence",
        "statut",
        "tentatives",
        "prochain",
        "derniere_tentative_le",
        "dernier_code",
        "derniere_erreur",
        "livree_le",
        "cree_le",
    ]

    @admin.display(description="abonnement")
    def abonnement_etat(self, obj: LivraisonWebhook) -> str:
        a = obj.abonnement
        if a.statut == AbonnementWebhook.Statut.EN_PAUSE:
            return format_html('{} <strong style="color:#ba2121">(EN PAUSE)</strong>', a.url)
        return a.url

    @admin.display(description="prochain essai", ordering="prochain_essai")
    def prochain(self, obj: LivraisonWebhook) -> str:
        if obj.statut == LivraisonWebhook.Statut.LIVREE:
            return "—"
        if obj.abonnement.statut == AbonnementWebhook.Statut.EN_PAUSE:
            return "à la reprise de l'abonnement"
        return f"{obj.prochain_essai:%Y-%m-%d %H:%M:%S}"


@admin.register(EvenementWebhook)
class EvenementWebhookAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "cle", "sujet", "sequence", "recu_le"]
    list_filter = ["cle"]
    search_fields = ["id", "sujet"]
    fields = readonly_fields = ["id", "cle", "sujet", "sequence", "recu_le", "corps"]
