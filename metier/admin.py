from django.contrib import admin

from . import services
from .models import Demande, Piece, Reparation, Voiture


class ServiceAdmin(admin.ModelAdmin):
    """Saves through the domain functions, so the admin obeys the same rules as the API."""

    create_service = None
    update_service = None
    instance_kwarg = ""
    fields_to_save: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields_to_save}
        if change:
            saved = type(self).update_service(**{self.instance_kwarg: obj}, **data)
        else:
            saved = type(self).create_service(**data)
        obj.pk = saved.pk


@admin.register(Piece)
class PieceAdmin(ServiceAdmin):
    list_display = ["id", "nom", "prix", "cree_le"]
    search_fields = ["nom"]
    list_filter = ["cree_le"]
    ordering = ["nom"]
    create_service = services.create_piece
    update_service = services.update_piece
    instance_kwarg = "piece"
    fields_to_save = ("nom", "prix")


@admin.register(Voiture)
class VoitureAdmin(ServiceAdmin):
    list_display = ["id", "marque", "couleur", "cree_le"]
    search_fields = ["marque", "couleur"]
    list_filter = ["marque", "couleur"]
    create_service = services.create_voiture
    update_service = services.update_voiture
    instance_kwarg = "voiture"
    fields_to_save = ("marque", "couleur")


@admin.register(Reparation)
class ReparationAdmin(ServiceAdmin):
    list_display = ["id", "piece", "duree", "cree_le"]
    list_select_related = ["piece"]
    search_fields = ["piece__nom"]
    list_filter = ["cree_le", "piece"]
    autocomplete_fields = ["piece"]
    date_hierarchy = "cree_le"
    show_full_result_count = False  # no COUNT(*) over a large table on each page
    create_service = services.create_reparation
    update_service = services.update_reparation
    instance_kwarg = "reparation"
    fields_to_save = ("piece", "duree")


@admin.register(Demande)
class DemandeAdmin(admin.ModelAdmin):
    """Requests are written by the intake and the worker; staff read them."""

    list_display = [
        "id",
        "piece",
        "duree",
        "statut",
        "motif",
        "reparation",
        "cree_le",
        "traitee_le",
    ]
    list_filter = ["statut", "cree_le"]
    search_fields = ["=id", "=cle_idempotence", "motif"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Demande._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
