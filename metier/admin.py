"""The staff's admin. Every write goes through the domain functions, so the admin obeys the
same rules as the API (validation, stock, transitions, history)."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join

from . import documents, selectors, services
from .models import (
    Avoir,
    Client,
    Demande,
    Devis,
    EcritureJournal,
    Facture,
    LigneAvoir,
    LigneFacture,
    LigneMainOeuvre,
    LignePiece,
    Paiement,
    Piece,
    Remboursement,
    Reparation,
    Transition,
    Voiture,
)
from .services.reparations import EDITABLE


def euros(amount: Decimal | None, unit: str = "€") -> str:
    """`1 234,50 €` (in the staff's language): money as the garage writes it."""
    if amount is None:
        return "—"
    return f"{number_format(amount, 2, force_grouping=True)} {unit}"


def pourcent(rate: Decimal | None) -> str:
    """A rate stored as a fraction (0.2000) shown as a percentage (20 %)."""
    if rate is None:
        return "—"
    value = (rate * 100).normalize()
    return f"{number_format(value, max(-value.as_tuple().exponent, 0))} %"


ACTION_LABELS = {
    "planifier": "Planifier",
    "demarrer": "Démarrer",
    "terminer": "Terminer",
    "facturer": "Facturer",
    "annuler": "Annuler",
}


VOIR_CLIENT = "metier.view_client"
VOIR_VOITURE = "metier.view_voiture"


class SelonLeRole:
    """Columns, form fields, filters and searches shown only to the roles whose API may see
    what they reveal: `besoins` maps a field (and every lookup through it, `client__nom`)
    to the permission it needs. A mechanic never sees a client's name, nor learns by a
    search whether a client exists."""

    besoins: tuple[tuple[str, str], ...] = ()

    def _permis(self, request, name: Any) -> bool:
        if not isinstance(name, str):
            return True  # a filter class: declared with its own checks
        bare = name.lstrip("=^@")
        return all(
            request.user.has_perm(perm)
            for prefix, perm in self.besoins
            if bare == prefix or bare.startswith(prefix + "__")
        )

    def _garder(self, request, names: Any) -> list:
        return [n for n in names if self._permis(request, n[0] if isinstance(n, tuple) else n)]

    def get_list_display(self, request):
        return self._garder(request, super().get_list_display(request))

    def get_list_filter(self, request):
        return self._garder(request, super().get_list_filter(request))

    def get_search_fields(self, request):
        return self._garder(request, super().get_search_fields(request))

    def get_fields(self, request, obj=None):
        return self._garder(request, super().get_fields(request, obj))

    def get_exclude(self, request, obj=None):
        hidden = [p for p, _ in self.besoins if "__" not in p and not self._permis(request, p)]
        return [*(super().get_exclude(request, obj) or ()), *hidden]


class ServiceAdmin(admin.ModelAdmin):
    """Saves through the domain's create/update functions."""

    create_service = None
    update_service = None
    delete_service = None
    instance_kwarg = ""
    fields_to_save: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name]
            for name in self.fields_to_save
            if name in form.cleaned_data
        }
        if change:
            saved = type(self).update_service(**{self.instance_kwarg: obj}, **data)
        else:
            saved = type(self).create_service(**data)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        if self.delete_service is not None:
            type(self).delete_service(**{self.instance_kwarg: obj})
        else:
            super().delete_model(request, obj)


@admin.register(Piece)
class PieceAdmin(ServiceAdmin):
    list_display = ["id", "nom", "prix_eur", "stock", "reserve", "disponible", "seuil"]
    search_fields = ["nom"]
    list_filter = ["cree_le"]
    ordering = ["nom"]
    readonly_fields = ["reserve"]
    create_service = services.create_piece
    update_service = services.update_piece
    instance_kwarg = "piece"
    fields_to_save = ("nom", "prix", "prix_reemploi", "stock", "seuil")
    actions = ["recevoir_dix"]

    def get_readonly_fields(self, request, obj=None):
        # Stock moves through receptions and repairs once the part exists.
        return ["reserve", "stock"] if obj is not None else ["reserve"]

    def has_reception_permission(self, request) -> bool:
        return request.user.has_perm("metier.receptionner_piece")

    @admin.display(description="prix (€ HT)", ordering="prix")
    def prix_eur(self, obj: Piece) -> str:
        return euros(obj.prix)

    @admin.display(description="disponible")
    def disponible(self, obj: Piece) -> int:
        return obj.disponible

    @admin.action(
        description="Réceptionner 10 de chaque pièce sélectionnée", permissions=["reception"]
    )
    def recevoir_dix(self, request, queryset):
        for piece in queryset:
            services.receive_stock(piece=piece, quantite=10, par=request.user)
        self.message_user(request, f"{queryset.count()} pièce(s) réceptionnée(s)", messages.SUCCESS)


@admin.register(Client)
class ClientAdmin(ServiceAdmin):
    list_display = ["id", "nom", "telephone", "email", "cree_le"]
    search_fields = ["nom", "email", "telephone"]
    create_service = services.create_client
    update_service = services.update_client
    instance_kwarg = "client"
    fields_to_save = ("nom", "telephone", "email")


@admin.register(Voiture)
class VoitureAdmin(SelonLeRole, ServiceAdmin):
    besoins = (("client", VOIR_CLIENT),)
    list_display = ["id", "immatriculation", "marque", "modele", "couleur", "client", "kilometrage"]
    list_select_related = ["client"]
    search_fields = ["immatriculation", "vin", "client__nom", "marque", "modele"]
    list_filter = ["marque"]
    autocomplete_fields = ["client"]
    create_service = services.create_voiture
    update_service = services.update_voiture
    instance_kwarg = "voiture"
    fields_to_save = (
        "marque",
        "couleur",
        "client",
        "immatriculation",
        "vin",
        "modele",
        "annee",
        "kilometrage",
    )

    def get_search_results(self, request, queryset, search_term):
        # A plate is found however it is typed ("ab-123 cd" finds AB123CD).
        from .selectors import search_voitures

        if not search_term:
            return super().get_search_results(request, queryset, search_term)
        clients = request.user.has_perm(VOIR_CLIENT)
        return search_voitures(queryset, search_term, clients=clients), False


class LignesFigees:
    """Lines change only while the order may (before the work starts); then read-only."""

    def _editable(self, obj) -> bool:
        return obj is None or obj.statut in EDITABLE

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class LignePieceInline(LignesFigees, admin.TabularInline):
    model = LignePiece
    extra = 0
    # The unit price is copied when the line is made: never edited.
    fields = [
        "piece",
        "quantite",
        "prix_unitaire_eur",
        "montant_eur",
        "initiale",
        "approbation",
        "origine",
    ]
    readonly_fields = ["prix_unitaire_eur", "montant_eur", "initiale", "approbation", "origine"]
    autocomplete_fields = ["piece"]

    @admin.display(description="prix unitaire (€ HT)")
    def prix_unitaire_eur(self, obj: LignePiece) -> str:
        return euros(obj.prix_unitaire) if obj.pk else "—"

    @admin.display(description="montant (€ HT)")
    def montant_eur(self, obj: LignePiece) -> str:
        return euros(obj.montant) if obj.pk else "—"


class LigneMainOeuvreInline(LignesFigees, admin.TabularInline):
    model = LigneMainOeuvre
    extra = 0
    # The hourly rate is copied when the line is made: never edited.
    fields = ["description", "heures", "taux_horaire_eur", "montant_eur", "initiale", "approbation"]
    readonly_fields = ["taux_horaire_eur", "montant_eur", "initiale", "approbation"]

    @admin.display(description="taux horaire")
    def taux_horaire_eur(self, obj: LigneMainOeuvre) -> str:
        return euros(obj.taux_horaire, "€/h") if obj.pk else "—"

    @admin.display(description="montant (€ HT)")
    def montant_eur(self, obj: LigneMainOeuvre) -> str:
        return euros(obj.montant) if obj.pk else "—"


class TransitionInline(admin.TabularInline):
    model = Transition
    extra = 0
    can_delete = False
    fields = readonly_fields = ["de", "vers", "le", "par", "motif"]

    def has_add_permission(self, request, obj=None):
        return False


def _transition_action(name: str):
    def run(modeladmin, request, queryset):
        done = 0
        for reparation in queryset.order_by("id"):
            try:
                if name == "facturer":  # invoicing an order is issuing its invoice
                    services.emettre_facture(reparation=reparation, par=request.user)
                else:
                    services.transition(reparation=reparation, action=name, par=request.user)
                done += 1
            except services.Conflict as exc:
                modeladmin.message_user(request, f"#{reparation.pk}: {exc}", messages.WARNING)
        if done:
            modeladmin.message_user(
                request, f"{ACTION_LABELS[name]} : {done} réparation(s)", messages.SUCCESS
            )

    run.__name__ = name
    # Shown only to users holding the transition's permission (has_<name>_permission below).
    return admin.action(
        description=f"{ACTION_LABELS[name]} les réparations sélectionnées", permissions=[name]
    )(run)


def _has_transition_permission(name: str):
    def check(self, request) -> bool:
        return request.user.has_perm(services.ACTIONS[name].permission)

    return check


@admin.register(Reparation)
class ReparationAdmin(SelonLeRole, ServiceAdmin):
    besoins = (("voiture", VOIR_VOITURE), ("voiture__client", VOIR_CLIENT))
    list_display = ["id", "statut", "voiture", "piece", "duree", "total_ttc_eur", "cree_le"]
    list_select_related = ["piece", "voiture"]
    search_fields = ["=id", "voiture__immatriculation", "voiture__client__nom", "description"]
    list_filter = ["statut", "cree_le", "voiture__marque"]
    autocomplete_fields = ["piece", "voiture"]
    date_hierarchy = "cree_le"
    show_full_result_count = False  # no COUNT(*) over a large table on each page
    # The request link, the status and the money are the domain's: shown, never edited.
    fields = [
        "piece",
        "duree",
        "voiture",
        "description",
        "statut",
        "demande_lien",
        "total_ht_eur",
        "taux_tva_pct",
        "montant_tva_eur",
        "total_ttc_eur",
    ]
    readonly_fields = [
        "statut",
        "demande_lien",
        "total_ht_eur",
        "taux_tva_pct",
        "montant_tva_eur",
        "total_ttc_eur",
    ]
    inlines = [LignePieceInline, LigneMainOeuvreInline, TransitionInline]
    create_service = services.create_reparation
    update_service = services.update_reparation
    delete_service = services.delete_reparation
    instance_kwarg = "reparation"
    fields_to_save = ("piece", "duree", "voiture", "description")
    actions = [_transition_action(name) for name in services.ACTIONS]

    def get_readonly_fields(self, request, obj=None):
        # Once the work has started the order itself is fixed (the domain refuses changes).
        if obj is not None and obj.statut not in EDITABLE:
            return [*self.fields_to_save, *self.readonly_fields]
        return self.readonly_fields

    @admin.display(description="demande")
    def demande_lien(self, obj: Reparation):
        if obj.demande_id is None:
            return "—"
        url = reverse("admin:metier_demande_change", args=[obj.demande_id])
        return format_html('<a href="{}">{}</a>', url, obj.demande_id)

    @admin.display(description="total HT")
    def total_ht_eur(self, obj: Reparation) -> str:
        return euros(obj.total_ht)

    @admin.display(description="taux de TVA")
    def taux_tva_pct(self, obj: Reparation) -> str:
        return pourcent(obj.taux_tva)

    @admin.display(description="montant TVA")
    def montant_tva_eur(self, obj: Reparation) -> str:
        return euros(obj.montant_tva)

    @admin.display(description="total TTC", ordering="total_ttc")
    def total_ttc_eur(self, obj: Reparation) -> str:
        return euros(obj.total_ttc)

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name]
            for name in self.fields_to_save
            if name in form.cleaned_data
        }
        if change:
            changed = {k: v for k, v in data.items() if k in form.changed_data}
            if changed:
                services.update_reparation(reparation=obj, par=request.user, **changed)
        else:
            obj.pk = services.create_reparation(par=request.user, **data).pk

    def save_formset(self, request, form, formset, change):
        """Line edits go through the domain too: totals and reservations stay true."""
        # The admin's change message reads these; formset.save() is what would set them.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is Transition:
            return
        reparation = form.instance
        for deleted in (f.instance for f in formset.deleted_forms if f.instance.pk):
            if isinstance(deleted, LignePiece):
                services.delete_ligne_piece(ligne=deleted, par=request.user)
            else:
                services.delete_ligne_main_oeuvre(ligne=deleted, par=request.user)
        for line_form in formset.forms:
            if not line_form.has_changed() or line_form in formset.deleted_forms:
                continue
            data = {k: v for k, v in line_form.cleaned_data.items() if k in line_form.changed_data}
            line = line_form.instance
            try:
                if formset.model is LignePiece:
                    if line.pk:
                        services.update_ligne_piece(ligne=line, par=request.user, **data)
                    else:
                        services.add_ligne_piece(reparation=reparation, par=request.user, **data)
                elif line.pk:
                    services.update_ligne_main_oeuvre(ligne=line, par=request.user, **data)
                else:
                    services.add_ligne_main_oeuvre(reparation=reparation, par=request.user, **data)
            except (services.Conflict, ValidationError) as exc:
                messages.error(request, str(exc))


for _name in services.ACTIONS:
    setattr(ReparationAdmin, f"has_{_name}_permission", _has_transition_permission(_name))


@admin.register(Demande)
class DemandeAdmin(admin.ModelAdmin):
    """Requests are written by the intake and the worker; staff read them."""

    list_display = [
        "id",
        "piece",
        "duree",
        "statut",
        "motif",
        "repair",
        "cree_le",
        "traitee_le",
    ]
    list_select_related = ["reparation"]
    list_filter = ["statut", "cree_le"]
    search_fields = ["=id", "=cle_idempotence", "motif"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Demande._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="réparation")
    def repair(self, obj: Demande):
        reparation = getattr(obj, "reparation", None)
        if reparation is None:
            return "—"
        url = reverse("admin:metier_reparation_change", args=[reparation.pk])
        return format_html('<a href="{}">{}</a>', url, reparation)


# --- invoicing: issued documents are read-only here (the database refuses changes anyway) --
class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LigneFactureInline(ReadOnlyInline):
    model = LigneFacture
    fields = readonly_fields = [
        "position",
        "nature",
        "reference",
        "designation",
        "origine",
        "quantite",
        "prix_unitaire",
        "mode_calcul",
        "montant_ht",
    ]


class DocumentAdmin(ReadOnlyAdmin):
    """A read-only admin with PDF downloads at `<id>/<name>/` (view permission needed)."""

    documents: dict[str, Any] = {}

    def get_urls(self):
        urls = [
            path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(self._download(name)),
                name=f"{self.opts.app_label}_{self.opts.model_name}_{name}",
            )
            for name in self.documents
        ]
        return urls + super().get_urls()

    def _download(self, name: str):
        def view(request, object_id: int):
            if not self.has_view_permission(request):
                raise PermissionDenied
            obj = self.get_object(request, str(object_id))
            if obj is None:
                raise Http404("no such document")
            content, suffix = self.documents[name](obj)
            response = HttpResponse(content, content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{obj.numero}{suffix}.pdf"'
            return response

        return view

    @admin.display(description="documents")
    def telechargements(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=[obj.pk]
                ),
                name.upper() if name == "pdf" else "Factur-X",
            )
            for name in self.documents
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))


@admin.register(Facture)
class FactureAdmin(DocumentAdmin):
    list_display = [
        "numero",
        "date",
        "client_nom",
        "immatriculation",
        "total_ttc",
        "reste",
        "statut",
        "telechargements",
    ]
    search_fields = ["=numero", "client_nom", "immatriculation"]
    list_filter = ["date", "professionnel"]
    date_hierarchy = "date"
    show_full_result_count = False
    inlines = [LigneFactureInline]
    readonly_fields = ["telechargements", "reste", "statut"] + [
        f.name for f in Facture._meta.fields
    ]
    documents = {
        "pdf": lambda f: (documents.facture_pdf(f), ""),
        "facturx": lambda f: (documents.facture_facturx(f), "-facturx"),
    }

    def get_queryset(self, request):
        return selectors.factures()

    @admin.display(description="reste dû")
    def reste(self, obj: Facture):
        return obj.reste_du

    @admin.display(description="paiement")
    def statut(self, obj: Facture):
        return services.statut_paiement(obj)


class EnregistrementForm(forms.ModelForm):
    """An admin form whose `clean()` records the document through the domain (one
    transaction, the same checks as the API): its 4xx reasons become the form's errors, and
    nothing is written when there is one. `save_model` then only takes the recorded row."""

    enregistre: Any = None

    def enregistrer(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.enregistre = self.enregistrer(data)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            raise ValidationError(
                {(k if k in self.fields else None): v for k, v in errors.items()}
            ) from exc
        except services.Conflict as exc:
            raise ValidationError(str(exc)) from exc
        return data


class RecordingAdmin(ReadOnlyAdmin):
    """Read-only once recorded; a new row is recorded by the form (`EnregistrementForm`)
    when the user holds the model's `add_` permission."""

    add_fields: tuple[str, ...] = ()

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*super().get_readonly_fields(request, obj)] or [
            f.name for f in self.model._meta.fields
        ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(self.add_fields)
        return super().get_fields(request, obj)

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def save_model(self, request, obj, form, change):
        obj.pk = form.enregistre.pk

    def save_related(self, request, form, formsets, change):
        pass  # everything was recorded by the form


class LigneAvoirInline(ReadOnlyInline):
    model = LigneAvoir
    fields = readonly_fields = ["designation", "quantite", "prix_unitaire", "montant_ht"]


class AvoirForm(EnregistrementForm):
    """A credit note from the admin: all that is left to credit on the invoice (a partial
    one, some quantities of some lines, through `POST /api/avoir/`)."""

    class Meta:
        model = Avoir
        fields = ["facture", "motif"]

    def enregistrer(self, data):
        return services.emettre_avoir(facture=data["facture"], motif=data["motif"], par=self.user)


@admin.register(Avoir)
class AvoirAdmin(RecordingAdmin, DocumentAdmin):
    list_display = [
        "numero",
        "date",
        "facture",
        "motif",
        "total_ttc",
        "remboursement",
        "telechargements",
    ]
    search_fields = ["=numero", "=facture__numero", "motif"]
    list_filter = ["date"]
    inlines = [LigneAvoirInline]
    readonly_fields = ["telechargements", "remboursement"] + [f.name for f in Avoir._meta.fields]
    documents = {"pdf": lambda a: (documents.avoir_pdf(a), "")}
    form = AvoirForm
    add_fields = ("facture", "motif")

    def get_queryset(self, request):
        return selectors.avoirs()

    @admin.display(description="remboursement")
    def remboursement(self, obj: Avoir) -> str:
        """The refund state; a link to record the refund while money is owed back."""
        etat = services.etat_remboursement(obj)
        if etat.statut != "a_rembourser":
            return etat.statut
        url = (
            reverse("admin:metier_remboursement_add")
            + f"?avoir={obj.pk}&montant={etat.a_rembourser}"
        )
        return format_html(
            'à rembourser : {} — <a href="{}">rembourser</a>', euros(etat.a_rembourser), url
        )


class PaiementForm(EnregistrementForm):
    facture = forms.ModelChoiceField(Facture.objects.all(), required=False)
    devis = forms.ModelChoiceField(
        Devis.objects.filter(statut__in=Devis.APPROUVES),
        required=False,
        help_text="a deposit on this approved estimate, before the invoice",
    )
    reparation = forms.ModelChoiceField(
        Reparation.objects.all(), required=False, help_text="a deposit on the order"
    )

    class Meta:
        model = Paiement
        fields = ["facture", "devis", "reparation", "montant", "mode", "reference"]

    def enregistrer(self, data):
        return services.enregistrer_paiement(
            facture=data.get("facture"),
            devis=data.get("devis"),
            reparation=data.get("reparation"),
            montant=data["montant"],
            mode=data["mode"],
            reference=data.get("reference") or "",
            par=self.user,
        )


@admin.register(Paiement)
class PaiementAdmin(RecordingAdmin):
    list_display = ["id", "recu_le", "reparation", "facture", "devis", "acompte", "mode", "montant"]
    list_filter = ["mode", "acompte", "recu_le"]
    search_fields = ["=facture__numero", "=reparation__id", "=devis__numero", "reference"]
    readonly_fields = [f.name for f in Paiement._meta.fields]
    form = PaiementForm
    add_fields = ("facture", "devis", "reparation", "montant", "mode", "reference")


class RemboursementForm(EnregistrementForm):
    class Meta:
        model = Remboursement
        fields = ["avoir", "montant", "mode", "reference"]

    def enregistrer(self, data):
        return services.enregistrer_remboursement(
            avoir=data["avoir"],
            montant=data["montant"],
            mode=data["mode"],
            reference=data.get("reference") or "",
            par=self.user,
        )


@admin.register(Remboursement)
class RemboursementAdmin(RecordingAdmin):
    list_display = ["id", "rembourse_le", "avoir", "facture", "mode", "montant"]
    list_filter = ["mode", "rembourse_le"]
    search_fields = ["=avoir__numero", "=facture__numero", "reference"]
    readonly_fields = [f.name for f in Remboursement._meta.fields]
    form = RemboursementForm
    add_fields = ("avoir", "montant", "mode", "reference")


@admin.register(EcritureJournal)
class EcritureJournalAdmin(ReadOnlyAdmin):
    list_display = ["position", "le", "type", "objet_id", "hash"]
    list_filter = ["type"]
    readonly_fields = [f.name for f in EcritureJournal._meta.fields]


# Estimates (Devis): their own module, registered with the rest.
from . import admin_devis  # noqa: E402, F401, I001

# Events, notifications, consent, reminders (issue 12).
from . import admin_evenements  # noqa: E402, F401
