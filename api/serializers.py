"""Serializers: JSON shapes and field checks only; writes go through metier.services."""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from intake import strict
from metier import limits
from metier.models import (
    Avoir,
    Client,
    Consentement,
    Devis,
    DevisLigne,
    Facture,
    LigneAvoir,
    LigneFacture,
    LigneMainOeuvre,
    LignePiece,
    Notification,
    Paiement,
    Piece,
    Rappel,
    Remboursement,
    Reparation,
    Transition,
    Voiture,
)
from metier.services import etat_remboursement, statut_paiement

MONEY = {"max_digits": 12, "decimal_places": 2, "coerce_to_string": False, "read_only": True}


class PieceSerializer(strict.ModelSerializer):
    prix = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=limits.PRIX_MAX,
        coerce_to_string=False,
    )
    stock = serializers.IntegerField(
        min_value=0,
        max_value=min(limits.QUANTITE_STOCK_MAX, limits.STOCK_MAX),
        required=False,
        help_text="initial stock (create only)",
    )
    disponible = serializers.IntegerField(read_only=True, help_text="stock - reserve")
    prix_reemploi = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=limits.PRIX_MAX,
        coerce_to_string=False,
        required=False,
        allow_null=True,
        help_text="price of the same part reused (PIEC), offered on estimates; null: none",
    )

    class Meta:
        model = Piece
        fields = [
            "id",
            "nom",
            "prix",
            "prix_reemploi",
            "stock",
            "reserve",
            "disponible",
            "seuil",
            "cree_le",
        ]
        read_only_fields = ["reserve"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:  # stock moves only by reception and repairs
            fields["stock"].read_only = True
        return fields


class ReceptionSerializer(strict.Serializer):
    quantite = serializers.IntegerField(min_value=1, max_value=limits.QUANTITE_STOCK_MAX)


class ClientSerializer(strict.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "nom", "telephone", "email", "cree_le"]


class VoitureSerializer(strict.ModelSerializer):
    class Meta:
        model = Voiture
        fields = [
            "id",
            "marque",
            "couleur",
            "client",
            "immatriculation",
            "vin",
            "modele",
            "annee",
            "kilometrage",
            "cree_le",
        ]
        extra_kwargs = {
            # Uniqueness is checked on the normalised value by the domain (and the database).
            "immatriculation": {"validators": []},
            "vin": {"validators": []},
        }


class LineSerializer(strict.ModelSerializer):
    """An order line: its repair is chosen when it is made, and stays."""

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["reparation"].read_only = True
        return fields


class LignePieceSerializer(LineSerializer):
    prix_unitaire = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False, read_only=True
    )
    montant = serializers.DecimalField(**MONEY)

    class Meta:
        model = LignePiece
        fields = [
            "id",
            "reparation",
            "piece",
            "quantite",
            "prix_unitaire",
            "montant",
            "initiale",
            "approbation",
            "origine",
        ]
        read_only_fields = ["initiale", "approbation", "origine"]


class LigneMainOeuvreSerializer(LineSerializer):
    heures = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=limits.HEURES_MIN,
        max_value=limits.DUREE_MAX,
        coerce_to_string=False,
    )
    taux_horaire = serializers.DecimalField(
        max_digits=8, decimal_places=2, coerce_to_string=False, read_only=True
    )
    montant = serializers.DecimalField(**MONEY)

    class Meta:
        model = LigneMainOeuvre
        fields = [
            "id",
            "reparation",
            "description",
            "heures",
            "taux_horaire",
            "montant",
            "initiale",
            "approbation",
        ]
        read_only_fields = ["initiale", "approbation"]


class TransitionSerializer(strict.ModelSerializer):
    par = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Transition
        fields = ["de", "vers", "le", "par", "motif"]


class ReparationSerializer(strict.ModelSerializer):
    duree = serializers.IntegerField(min_value=limits.DUREE_MIN, max_value=limits.DUREE_MAX)
    description = serializers.CharField(
        max_length=limits.DESCRIPTION_MAX, required=False, allow_blank=True
    )
    demande = serializers.UUIDField(source="demande_id", read_only=True, allow_null=True)
    lignes_pieces = LignePieceSerializer(many=True, read_only=True)
    lignes_main_oeuvre = LigneMainOeuvreSerializer(many=True, read_only=True)
    total_ht = serializers.DecimalField(**MONEY)
    montant_tva = serializers.DecimalField(**MONEY)
    total_ttc = serializers.DecimalField(**MONEY)
    taux_tva = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True
    )

    class Meta:
        model = Reparation
        fields = [
            "id",
            "piece",
            "duree",
            "voiture",
            "description",
            "nature",
            "statut",
            "lignes_pieces",
            "lignes_main_oeuvre",
            "total_ht",
            "taux_tva",
            "montant_tva",
            "total_ttc",
            "cree_le",
            "demande",
        ]
        read_only_fields = ["statut"]


# --- invoicing ---------------------------------------------------------------------------
AMOUNT = {"max_digits": 12, "decimal_places": 2, "coerce_to_string": False}


class LigneFactureSerializer(strict.ModelSerializer):
    quantite = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)
    prix_unitaire = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False
    )
    montant_ht = serializers.DecimalField(**AMOUNT)

    class Meta:
        model = LigneFacture
        fields = [
            "id",
            "position",
            "nature",
            "designation",
            "reference",
            "origine",
            "quantite",
            "prix_unitaire",
            "montant_ht",
            "mode_calcul",
        ]
        read_only_fields = fields


class FactureSerializer(strict.ModelSerializer):
    """An issued invoice, as issued, with what it received and what is still due."""

    lignes = LigneFactureSerializer(many=True, read_only=True)
    total_ht = serializers.DecimalField(**AMOUNT, read_only=True)
    taux_tva = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True
    )
    montant_tva = serializers.DecimalField(**AMOUNT, read_only=True)
    total_ttc = serializers.DecimalField(**AMOUNT, read_only=True)
    acomptes = serializers.DecimalField(
        **AMOUNT,
        read_only=True,
        allow_null=True,
        help_text="deposits received before the issue, deducted (Factur-X TotalPrepaidAmount)",
    )
    net_a_payer = serializers.SerializerMethodField(help_text="total with tax - deposits")
    montant_recu = serializers.DecimalField(**AMOUNT, read_only=True)
    montant_rembourse = serializers.DecimalField(**AMOUNT, read_only=True)
    montant_avoirs = serializers.DecimalField(**AMOUNT, read_only=True)
    reste_du = serializers.DecimalField(**AMOUNT, read_only=True)
    statut_paiement = serializers.SerializerMethodField()
    age_jours = serializers.SerializerMethodField()
    en_retard = serializers.SerializerMethodField()
    pdf = serializers.SerializerMethodField()
    facturx = serializers.SerializerMethodField()

    class Meta:
        model = Facture
        fields = [
            "id",
            "numero",
            "reparation",
            "date",
            "emise_le",
            "echeance",
            "emetteur",
            "client",
            "client_nom",
            "client_adresse",
            "client_siret",
            "client_tva",
            "professionnel",
            "immatriculation",
            "vehicule",
            "vin",
            "kilometrage",
            "lignes",
            "total_ht",
            "taux_tva",
            "montant_tva",
            "total_ttc",
            "conditions_paiement",
            "mentions",
            "travaux_refuses",
            "acomptes",
            "net_a_payer",
            "montant_recu",
            "montant_rembourse",
            "montant_avoirs",
            "reste_du",
            "statut_paiement",
            "age_jours",
            "en_retard",
            "pdf",
            "facturx",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["emise", "partiellement_payee", "payee", "soldee_par_avoir", "a_rembourser"]
        )
    )
    def get_statut_paiement(self, obj: Facture) -> str:
        return statut_paiement(obj)

    @extend_schema_field(serializers.DecimalField(**AMOUNT))
    def get_net_a_payer(self, obj: Facture) -> Decimal:
        return obj.total_ttc - (obj.acomptes or Decimal("0.00"))

    def get_age_jours(self, obj: Facture) -> int:
        return (timezone.localdate() - obj.date).days

    def get_en_retard(self, obj: Facture) -> bool:
        return obj.reste_du > 0 and timezone.localdate() > obj.echeance

    def get_pdf(self, obj: Facture) -> str:
        return reverse("facture-pdf", args=[obj.pk], request=self.context.get("request"))

    def get_facturx(self, obj: Facture) -> str:
        return reverse("facture-facturx", args=[obj.pk], request=self.context.get("request"))


class FactureEmissionSerializer(strict.Serializer):
    """`POST /api/facture/`: issue the invoice of a finished repair order."""

    reparation = serializers.PrimaryKeyRelatedField(queryset=Reparation.objects.all())
    professionnel = serializers.BooleanField(
        required=False, default=False, help_text="business customer: late-payment mentions"
    )
    client_adresse = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default=""
    )
    client_siret = serializers.CharField(
        max_length=20, required=False, allow_blank=True, default=""
    )
    client_tva = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    kilometrage = serializers.IntegerField(
        min_value=0, max_value=10_000_000, required=False, help_text="mileage at the invoice"
    )


class LigneAvoirSerializer(strict.ModelSerializer):
    quantite = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)
    prix_unitaire = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False
    )
    montant_ht = serializers.DecimalField(**AMOUNT)

    class Meta:
        model = LigneAvoir
        fields = ["id", "ligne_facture", "designation", "quantite", "prix_unitaire", "montant_ht"]
        read_only_fields = fields


class AvoirSerializer(strict.ModelSerializer):
    lignes = LigneAvoirSerializer(many=True, read_only=True)
    total_ht = serializers.DecimalField(**AMOUNT, read_only=True)
    taux_tva = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True
    )
    montant_tva = serializers.DecimalField(**AMOUNT, read_only=True)
    total_ttc = serializers.DecimalField(**AMOUNT, read_only=True)
    montant_rembourse = serializers.SerializerMethodField()
    a_rembourser = serializers.SerializerMethodField()
    statut_remboursement = serializers.SerializerMethodField()
    pdf = serializers.SerializerMethodField()

    class Meta:
        model = Avoir
        fields = [
            "id",
            "numero",
            "facture",
            "date",
            "emis_le",
            "motif",
            "lignes",
            "total_ht",
            "taux_tva",
            "montant_tva",
            "total_ttc",
            "montant_rembourse",
            "a_rembourser",
            "statut_remboursement",
            "pdf",
        ]
        read_only_fields = fields

    def _etat(self, obj: Avoir):
        cache = self.context.setdefault("_etats", {})
        if obj.pk not in cache:
            cache[obj.pk] = etat_remboursement(obj)
        return cache[obj.pk]

    @extend_schema_field(serializers.DecimalField(**AMOUNT))
    def get_montant_rembourse(self, obj: Avoir) -> Decimal:
        """What was paid back to the customer on this credit note."""
        return self._etat(obj).montant_rembourse

    @extend_schema_field(serializers.DecimalField(**AMOUNT))
    def get_a_rembourser(self, obj: Avoir) -> Decimal:
        """What is still owed back on it: what it cancelled of the invoice that was paid."""
        return self._etat(obj).a_rembourser

    @extend_schema_field(
        serializers.ChoiceField(choices=["sans_objet", "a_rembourser", "rembourse"])
    )
    def get_statut_remboursement(self, obj: Avoir) -> str:
        return self._etat(obj).statut

    def get_pdf(self, obj: Avoir) -> str:
        return reverse("avoir-pdf", args=[obj.pk], request=self.context.get("request"))


class LigneAvoirDemandeSerializer(strict.Serializer):
    ligne = serializers.IntegerField(min_value=1, help_text="id of the invoice line")
    quantite = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), coerce_to_string=False
    )


class AvoirEmissionSerializer(strict.Serializer):
    """`POST /api/avoir/`: a credit note, in full (no `lignes`) or for some line quantities."""

    facture = serializers.PrimaryKeyRelatedField(queryset=Facture.objects.all())
    motif = serializers.CharField(max_length=500)
    lignes = LigneAvoirDemandeSerializer(many=True, required=False, allow_empty=False)


class PaiementSerializer(strict.ModelSerializer):
    """A payment of an invoice, or a deposit on a repair order before its invoice."""

    facture = serializers.PrimaryKeyRelatedField(
        queryset=Facture.objects.all(), required=False, allow_null=True
    )
    reparation = serializers.PrimaryKeyRelatedField(
        queryset=Reparation.objects.all(), required=False
    )
    montant = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), coerce_to_string=False
    )
    devis = serializers.PrimaryKeyRelatedField(
        queryset=Devis.objects.all(),
        required=False,
        allow_null=True,
        help_text="a deposit on this approved estimate (before the invoice)",
    )
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = Paiement
        fields = [
            "id",
            "facture",
            "reparation",
            "devis",
            "acompte",
            "montant",
            "mode",
            "reference",
            "recu_le",
        ]
        read_only_fields = ["acompte", "recu_le"]


class RemboursementSerializer(strict.ModelSerializer):
    """Money paid back on a credit note (what it cancelled of a paid invoice)."""

    avoir = serializers.PrimaryKeyRelatedField(queryset=Avoir.objects.all())
    montant = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), coerce_to_string=False
    )
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = Remboursement
        fields = ["id", "avoir", "facture", "reparation", "montant", "mode", "reference"]
        fields += ["rembourse_le"]
        read_only_fields = ["facture", "reparation", "rembourse_le"]


# --- estimates (Devis) -----------------------------------------------------------------------
class DevisLigneSerializer(strict.ModelSerializer):
    quantite = serializers.DecimalField(
        max_digits=8, decimal_places=2, coerce_to_string=False, read_only=True
    )
    prix_unitaire = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False, read_only=True
    )
    montant = serializers.DecimalField(**MONEY)
    prix_reemploi = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )

    class Meta:
        model = DevisLigne
        fields = [
            "id",
            "nature",
            "designation",
            "piece",
            "quantite",
            "prix_unitaire",
            "montant",
            "prix_reemploi",
            "decision",
            "choix_piec",
            "ligne_piece",
            "ligne_main_oeuvre",
        ]
        read_only_fields = fields


class DevisSerializer(strict.ModelSerializer):
    statut = serializers.SerializerMethodField()
    lignes = DevisLigneSerializer(many=True, read_only=True)
    total_ht = serializers.DecimalField(**MONEY)
    montant_tva = serializers.DecimalField(**MONEY)
    total_ttc = serializers.DecimalField(**MONEY)
    taux_tva = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True
    )
    pdf = serializers.SerializerMethodField()

    class Meta:
        model = Devis
        fields = [
            "id",
            "numero",
            "reparation",
            "complementaire",
            "statut",
            "valide_jusqu_au",
            "lignes",
            "total_ht",
            "taux_tva",
            "montant_tva",
            "total_ttc",
            "cree_le",
            "envoye_le",
            "repondu_le",
            "signature",
            "adresse_ip",
            "user_agent",
            "empreinte",
            "pdf",
        ]
        read_only_fields = fields

    def get_pdf(self, obj: Devis) -> str:
        return reverse("devis-pdf", args=[obj.pk], request=self.context.get("request"))

    @extend_schema_field(serializers.ChoiceField(choices=Devis.Statut.choices))
    def get_statut(self, obj: Devis) -> str:
        """`expire` for an open estimate past its validity date."""
        return getattr(obj, "statut_affiche", None) or obj.statut_effectif


class DevisEnvoyeSerializer(DevisSerializer):
    lien = serializers.URLField(
        read_only=True, help_text="the customer's approval link: shown once, send it to them"
    )

    class Meta(DevisSerializer.Meta):
        fields = [*DevisSerializer.Meta.fields, "lien"]
        read_only_fields = fields


class LigneProposeeSerializer(strict.Serializer):
    """A line of a supplementary estimate: `piece` (+ `quantite`), or `heures` (+ `description`)."""

    piece = serializers.PrimaryKeyRelatedField(queryset=Piece.objects.all(), required=False)
    quantite = serializers.IntegerField(min_value=1, max_value=10_000, default=1)
    heures = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=limits.HEURES_MIN,
        max_value=limits.DUREE_MAX,
        coerce_to_string=False,
        required=False,
    )
    description = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )

    def validate(self, attrs: dict) -> dict:
        if ("piece" in attrs) == ("heures" in attrs):
            raise serializers.ValidationError(
                {"piece": ["give either a part (`piece`) or labour hours (`heures`)"]}
            )
        return attrs


class DevisCreateSerializer(strict.Serializer):
    reparation = serializers.PrimaryKeyRelatedField(queryset=Reparation.objects.all())
    validite_jours = serializers.IntegerField(
        min_value=1,
        max_value=365,
        required=False,
        help_text="days the estimate stays valid (default GARAGE_DEVIS_VALIDITE_JOURS)",
    )
    lignes = LigneProposeeSerializer(
        many=True,
        required=False,
        max_length=100,
        help_text="only for a supplementary estimate (the work has started): the lines proposed",
    )


class NotificationSerializer(serializers.ModelSerializer):
    """A message to the customer about one event on one channel (issue 12)."""

    class Meta:
        model = Notification
        fields = [
            "id",
            "evenement_id",
            "type",
            "canal",
            "destinataire",
            "statut",
            "tentatives",
            "erreur",
            "cree_le",
            "envoyee_le",
        ]
        read_only_fields = fields


class ConsentementSerializer(strict.ModelSerializer):
    """A customer's opt-in (or withdrawal) for a channel: when and how it was given (RGPD)."""

    source = serializers.CharField(max_length=200)

    class Meta:
        model = Consentement
        fields = ["id", "client", "canal", "accorde", "le", "source"]
        read_only_fields = ["le"]
        validators = []  # one per customer and channel: a new answer replaces the last


class RappelSerializer(strict.ModelSerializer):
    """A car's maintenance reminder, e.g. `vidange` every 15,000 km or 365 days."""

    nature = serializers.CharField(max_length=60)
    intervalle_km = serializers.IntegerField(
        min_value=1, max_value=10_000_000, required=False, allow_null=True
    )
    intervalle_jours = serializers.IntegerField(
        min_value=1, max_value=100_000, required=False, allow_null=True
    )
    dernier_km = serializers.IntegerField(min_value=0, required=False)
    echeance = serializers.DateField(read_only=True)
    echeance_km = serializers.IntegerField(read_only=True)

    class Meta:
        model = Rappel
        fields = [
            "id",
            "voiture",
            "nature",
            "intervalle_km",
            "intervalle_jours",
            "dernier_km",
            "derniere_date",
            "echeance",
            "echeance_km",
            "du_le",
        ]
        read_only_fields = ["du_le"]
        validators = []  # the domain says which field is wrong (400 naming it)
