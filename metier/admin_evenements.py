"""Issue 12 in the admin: the event outbox and the notifications (read-only: they are
records), customers' consent and cars' reminders."""

from __future__ import annotations

from django.contrib import admin

from .models import Consentement, Evenement, Notification, Rappel


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Evenement)
class EvenementAdmin(ReadOnly):
    list_display = ["type", "sujet", "sequence", "cree_le", "publie_le"]
    list_filter = ["type", ("publie_le", admin.EmptyFieldListFilter)]
    search_fields = ["sujet", "=id"]
    ordering = ["-cree_le"]


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ["type", "canal", "destinataire", "statut", "tentatives", "cree_le"]
    list_filter = ["statut", "canal", "type"]
    search_fields = ["destinataire", "=evenement_id", "=reparation__id"]
    ordering = ["-cree_le"]


@admin.register(Consentement)
class ConsentementAdmin(admin.ModelAdmin):
    list_display = ["client", "canal", "accorde", "le", "source"]
    list_filter = ["canal", "accorde"]
    search_fields = ["client__nom"]
    autocomplete_fields = ["client"]


@admin.register(Rappel)
class RappelAdmin(admin.ModelAdmin):
    list_display = ["voiture", "nature", "intervalle_km", "intervalle_jours", "du_le"]
    list_filter = ["nature"]
    search_fields = ["voiture__immatriculation", "nature"]
    autocomplete_fields = ["voiture"]
    readonly_fields = ["du_le"]
