"""Who may do what, endpoint by endpoint: the role x endpoint x method matrix.

The expectations below are written by hand (they are docs/security.md's table), not read
from access/roles.py, so that a change of a role shows up here.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from access import roles
from metier import services
from metier.models import (
    Avoir,
    Client,
    Demande,
    Devis,
    Facture,
    LigneMainOeuvre,
    LignePiece,
    Paiement,
    Piece,
    Remboursement,
    Reparation,
    Voiture,
)
from metier.services import (
    create_client,
    create_devis,
    create_piece,
    create_reparation,
    create_voiture,
    transition,
)
from tests.support.accounts import make_account, token_client
from tests.support.api_cases import SUPERUSER, APIViewTestCases
from tests.support.facturation import facture, repair_terminee


class TestPieceAPI(APIViewTestCases.ModelViewSet):
    model = Piece
    basename = "piece"
    role_access = {
        "magasinier": "crud",
        "administrateur": "crud",
        "accueil": "r",
        "mecanicien": "r",
    }

    def make(self):
        return create_piece(nom="Filtre", prix="10.00")

    def create_data(self):
        return {"nom": "Filtre", "prix": 10}

    def update_data(self):
        return {"nom": "Filtre à huile", "prix": 12.5}


class TestVoitureAPI(APIViewTestCases.ModelViewSet):
    model = Voiture
    basename = "voiture"
    role_access = {"accueil": "crud", "administrateur": "crud", "mecanicien": "r"}

    def make(self):
        return create_voiture(marque="Renault", couleur="rouge")

    def create_data(self):
        return {"marque": "Peugeot", "couleur": "bleu"}


class TestReparationAPI(APIViewTestCases.ModelViewSet):
    model = Reparation
    basename = "reparation"
    role_access = {
        "accueil": "crud",
        "administrateur": "crud",
        "mecanicien": "r",
        "magasinier": "r",
    }

    def make(self):
        return create_reparation(piece=create_piece(nom="Courroie", prix="30"), duree=2)

    def create_data(self):
        return {"piece": create_piece(nom="Disque", prix="80").pk, "duree": 3}


class TestDemandeAPI(APIViewTestCases.ReadOnlyViewSet):
    model = Demande
    basename = "demande"
    role_access = {"accueil": "r", "administrateur": "r"}

    def make(self):
        return Demande.objects.create(piece=1, duree=2)


class TestClientAPI(APIViewTestCases.ModelViewSet):
    model = Client
    basename = "client"
    role_access = {"accueil": "crud", "administrateur": "crud"}

    def make(self):
        return create_client(nom="Mme Martin")

    def create_data(self):
        return {"nom": "M. Durand", "email": "durand@example.fr"}


class TestLignePieceAPI(APIViewTestCases.ModelViewSet):
    model = LignePiece
    basename = "ligne-piece"
    role_access = {
        "accueil": "crud",
        "administrateur": "crud",
        "mecanicien": "r",
        "magasinier": "r",
    }

    def make(self):
        return _repair_in("demandee").lignes_pieces.get()

    def create_data(self):
        repair = _repair_in("demandee")
        return {"reparation": repair.pk, "piece": repair.piece_id, "quantite": 2}

    def update_data(self):
        return {"quantite": 3, "piece": create_piece(nom="Joint", prix="2", stock=9).pk}


class TestLigneMainOeuvreAPI(APIViewTestCases.ModelViewSet):
    model = LigneMainOeuvre
    basename = "ligne-main-oeuvre"
    role_access = {"accueil": "crud", "administrateur": "crud", "mecanicien": "r"}

    def make(self):
        return _repair_in("demandee").lignes_main_oeuvre.get()

    def create_data(self):
        return {"reparation": _repair_in("demandee").pk, "heures": 1.5, "description": "essai"}

    def update_data(self):
        return {"heures": 2, "description": "essai routier"}


def _repair_in(statut: str) -> Reparation:
    """A repair order in the given state (its part in stock), through the real transitions."""
    piece = create_piece(nom="Courroie", prix="30", stock=5)
    repair = create_reparation(piece=piece, duree=2)
    path = ["planifier", "demarrer", "terminer", "facturer"]
    order = ["demandee", "planifiee", "en_cours", "terminee", "facturee"]
    for action in path[: order.index(statut)]:
        transition(reparation=repair, action=action)
    return repair


def _transition_case(action: str, source: str, allowed: tuple[str, ...]) -> type:
    class Case(APIViewTestCases.ActionChecks):
        model = Reparation
        basename = "reparation"
        custom_actions = {
            action: ("post", True, f"metier.{action}_reparation", (*allowed, "administrateur"))
        }

        def make(self):
            return _repair_in(source)

    Case.__name__ = Case.__qualname__ = f"Test{action.capitalize()}Transition"
    return Case


# Which role moves a repair through which state (docs/security.md, "Who may do what").
TestPlanifierTransition = _transition_case("planifier", "demandee", ("accueil",))
TestDemarrerTransition = _transition_case("demarrer", "planifiee", ("mecanicien",))
TestTerminerTransition = _transition_case("terminer", "en_cours", ("mecanicien",))
TestFacturerTransition = _transition_case("facturer", "terminee", ("accueil",))
TestAnnulerTransition = _transition_case("annuler", "planifiee", ("accueil",))


class TestRepairAndStockActions(APIViewTestCases.ActionChecks):
    model = Reparation
    basename = "reparation"
    custom_actions = {
        "historique": ("get", True, "metier.view_reparation", (*roles.ROLES,)),
    }

    def make(self):
        return _repair_in("demandee")


class TestDevisAPI(APIViewTestCases.CrudChecks):
    """Estimates are made and read; never changed or deleted (withdrawn instead)."""

    model = Devis
    basename = "devis"
    operations = ("list", "retrieve", "create")
    role_access = {"accueil": "cr", "administrateur": "cr", "mecanicien": "r"}

    def make(self):
        return create_devis(reparation=_repair_in("demandee"))

    def create_data(self):
        return {"reparation": _repair_in("demandee").pk}


class TestDevisActions(APIViewTestCases.ActionChecks):
    """Who sends an estimate to the customer, and withdraws it: the service adviser."""

    model = Devis
    basename = "devis"
    custom_actions = {
        "envoyer": ("post", True, "metier.envoyer_devis", ("accueil", "administrateur")),
        "annuler": ("post", True, "metier.annuler_devis", ("accueil", "administrateur")),
        "pdf": ("get", True, "metier.view_devis", ("accueil", "mecanicien", "administrateur")),
    }

    def make(self):
        return create_devis(reparation=_repair_in("demandee"))


class TestPieceActions(APIViewTestCases.ActionChecks):
    model = Piece
    basename = "piece"
    custom_actions = {
        "reception": ("post", True, "metier.receptionner_piece", ("magasinier", "administrateur")),
        "a_commander": ("get", False, "metier.view_piece", (*roles.ROLES,)),
    }

    def make(self):
        return create_piece(nom="Filtre", prix="10.00")

    def action_data(self, action):
        return {"quantite": 4} if action == "reception" else None


# --- invoicing: the adviser issues invoices and takes payments; only an administrator
# issues credit notes. Issued documents offer no update or delete at all (405).
class TestFactureAPI(APIViewTestCases.CrudChecks):
    model = Facture
    basename = "facture"
    operations = ("list", "retrieve", "create")
    role_access = {"accueil": "cr", "administrateur": "cr"}

    def make(self):
        return facture()

    def create_data(self):
        return {"reparation": repair_terminee().pk}


class TestAvoirAPI(APIViewTestCases.CrudChecks):
    model = Avoir
    basename = "avoir"
    operations = ("list", "retrieve", "create")
    role_access = {"accueil": "r", "administrateur": "cr"}

    def make(self):
        return services.emettre_avoir(facture=facture(), motif="erreur")

    def create_data(self):
        return {"facture": facture().pk, "motif": "erreur de saisie"}


class TestPaiementAPI(APIViewTestCases.CrudChecks):
    model = Paiement
    basename = "paiement"
    operations = ("list", "retrieve", "create")
    role_access = {"accueil": "cr", "administrateur": "cr"}

    def make(self):
        return services.enregistrer_paiement(facture=facture(), montant="10", mode="carte")

    def create_data(self):
        return {"facture": facture().pk, "montant": 10, "mode": "especes"}


def _avoir_a_rembourser():
    f = facture()
    services.enregistrer_paiement(facture=f, montant="204.00", mode="carte")
    return services.emettre_avoir(facture=f, motif="erreur")


class TestRemboursementAPI(APIViewTestCases.CrudChecks):
    """Refunds are recorded at the till, as payments (the credit note itself was issued by
    an administrator); never changed."""

    model = Remboursement
    basename = "remboursement"
    operations = ("list", "retrieve", "create")
    role_access = {"accueil": "cr", "administrateur": "cr"}

    def make(self):
        return services.enregistrer_remboursement(
            avoir=_avoir_a_rembourser(), montant="10", mode="virement"
        )

    def create_data(self):
        return {"avoir": _avoir_a_rembourser().pk, "montant": 10, "mode": "virement"}


class TestFactureActions(APIViewTestCases.ActionChecks):
    model = Facture
    basename = "facture"
    custom_actions = {
        "pdf": ("get", True, "metier.view_facture", ("accueil", "administrateur")),
        "facturx": ("get", True, "metier.view_facture", ("accueil", "administrateur")),
        "impayees": ("get", False, "metier.view_facture", ("accueil", "administrateur")),
    }

    def make(self):
        return facture()


class TestAvoirActions(APIViewTestCases.ActionChecks):
    model = Avoir
    basename = "avoir"
    custom_actions = {
        "pdf": ("get", True, "metier.view_avoir", ("accueil", "administrateur")),
        "a_rembourser": ("get", False, "metier.view_avoir", ("accueil", "administrateur")),
    }

    def make(self):
        return services.emettre_avoir(facture=facture(), motif="erreur")


@pytest.mark.urls("tests.support.transition_urls")
class TestTransitionCheckedInTheView:
    """A transition whose permission depends on the data (the target status)."""

    pytestmark = [pytest.mark.django_db]

    def _post(self, client, name, data):
        repair = create_reparation(piece=create_piece(nom="Courroie", prix="30"), duree=2)
        return client.post(f"/api/essai/{repair.pk}/{name}/", data, format="json")

    @pytest.mark.parametrize(
        ("role", "statut", "allowed"),
        [
            ("mecanicien", "en_cours", True),
            ("mecanicien", "planifiee", False),
            ("accueil", "planifiee", True),
            ("accueil", "en_cours", False),
            ("magasinier", "en_cours", False),
            (SUPERUSER, "en_cours", True),
        ],
    )
    def test_refused_to_roles_that_may_not(self, role, statut, allowed):
        _, token = make_account(admin=True) if role == SUPERUSER else make_account(role)
        r = self._post(token_client(token), "transition", {"statut": statut})
        assert r.status_code == (200 if allowed else 403), r.content
        if not allowed:
            assert "permission" in r.json()["detail"]

    def test_undeclared_action_is_refused_even_to_a_superuser(self):
        r = self._post(token_client(make_account(admin=True)[1]), "oubliee", {})
        assert r.status_code == 403


# --- the intake: a token with the right to request repairs ----------------------------------
INTAKE_ALLOWED = {"accueil", "administrateur", SUPERUSER}


@pytest.fixture
def no_broker(settings):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_broker")
@pytest.mark.parametrize("role", [*roles.ROLES, SUPERUSER])
@pytest.mark.parametrize("method", ["get", "post"])
def test_intake_by_role(role, method, piece):
    _, token = make_account(admin=True) if role == SUPERUSER else make_account(role)
    client = token_client(token)
    if method == "get":
        r = client.get(f"/reparation/{piece.pk}/2/")
    else:
        r = client.post("/reparation/", {"piece": piece.pk, "duree": 2}, format="json")
    assert r.status_code == (202 if role in INTAKE_ALLOWED else 403), r.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_broker")
def test_intake_service_account_with_only_that_permission(piece):
    _, token = make_account(perms=("metier.add_demande",))
    assert token_client(token).get(f"/reparation/{piece.pk}/2/").status_code == 202
    # ...and nothing else
    assert token_client(token).get("/api/piece/").status_code == 403


@pytest.mark.django_db
def test_intake_needs_a_token_not_a_session(piece):
    """The GET intake changes state: a browser's session cookie must not be enough (CSRF)."""
    user, _ = make_account(admin=True, service=False)
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/piece/").status_code == 200  # the session works for the API
    r = client.get(f"/reparation/{piece.pk}/2/")
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Token"
    assert Demande.objects.count() == 0


@pytest.mark.django_db
def test_intake_anonymous_and_bad_token_are_401(piece):
    for client in (token_client(None), token_client("f" * 64)):
        r = client.get(f"/reparation/{piece.pk}/2/")
        assert r.status_code == 401 and "detail" in r.json()
        r = client.post("/reparation/", {"piece": piece.pk, "duree": 2}, format="json")
        assert r.status_code == 401
    assert Demande.objects.count() == 0


# --- everything else --------------------------------------------------------------------------
PUBLIC = {"/health/"}


def _operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), list(_operations()))
def test_every_operation_in_the_schema_requires_authentication(path, method):
    url = path
    for name in ("id", "piece", "duree"):
        url = url.replace("{" + name + "}", str(uuid.uuid4()) if "demande" in path else "1")
    response = getattr(APIClient(), method)(url)
    if path in PUBLIC:
        assert response.status_code == 200
    else:
        assert response.status_code == 401, (path, method, response.status_code)
        assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_public_pages_need_nothing():
    client = APIClient()
    assert client.get("/health/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    # even with a bad token, the public pages answer
    assert token_client("x").get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_admin_site_needs_a_staff_login():
    r = APIClient().get("/admin/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


@pytest.mark.django_db
def test_admin_shows_a_role_only_its_models():
    user, _ = make_account(roles.MAGASINIER, service=False)
    client = APIClient()
    client.force_login(user)
    assert client.get("/admin/metier/piece/").status_code == 200
    assert client.get("/admin/metier/voiture/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403


@pytest.mark.django_db
def test_me_tells_roles_and_permissions():
    _, token = make_account(roles.MAGASINIER)
    body = token_client(token).get("/api/auth/me/").json()
    assert body["roles"] == ["magasinier"] and not body["superuser"]
    assert "metier.add_piece" in body["permissions"]
    assert "metier.add_voiture" not in body["permissions"]


# --- the role definitions ------------------------------------------------------------------
@pytest.mark.django_db
def test_groups_hold_exactly_the_roles_after_migrate():
    for name, perms in roles.ROLES.items():
        group = Group.objects.get(name=name)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        wanted = {p for p in perms if not p.endswith(".*")}
        assert wanted <= held, name
        if not any(p.endswith(".*") for p in perms):
            assert held == wanted, name


@pytest.mark.django_db
def test_a_permission_given_by_hand_to_a_group_is_reset(monkeypatch):
    group = Group.objects.get(name=roles.MECANICIEN)
    group.permissions.add(Permission.objects.get(codename="delete_piece"))
    roles.sync_roles()
    assert not group.permissions.filter(codename="delete_piece").exists()


@pytest.mark.django_db
def test_an_unknown_permission_in_a_role_is_an_error(monkeypatch):
    monkeypatch.setitem(roles.ROLES, roles.MECANICIEN, ("metier.voler_piece",))
    with pytest.raises(ImproperlyConfigured, match="voler_piece"):
        roles.sync_roles()


# --- no action without a declared permission -------------------------------------------------
def test_check_passes_on_the_real_urls():
    from django.core.management import call_command

    call_command("check", "--fail-level", "ERROR")  # raises SystemCheckError otherwise


@pytest.mark.urls("tests.support.transition_urls")
def test_check_names_an_undeclared_action():
    from access.checks import every_action_has_a_permission

    errors = every_action_has_a_permission()
    assert [e.id for e in errors] == ["access.E001"]
    assert "EssaiViewSet" in errors[0].msg and "oubliee" in errors[0].msg


@pytest.mark.django_db
def test_api_root_is_for_any_authenticated_user():
    assert APIClient().get("/api/").status_code == 401
    r = token_client(make_account()[1]).get("/api/")
    assert r.status_code == 200 and "piece" in r.json()
