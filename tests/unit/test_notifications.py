"""The notifier's handler: templates, consent, once per event and channel, retries; email to
a real SMTP server (aiosmtpd), SMS to a real HTTP receiver and to files."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from messaging.consumer import ACK, DeadLetter, Delivery, Retry
from metier import services
from metier.models import Evenement, Notification
from metier.services.notifications import enregistrer_consentement
from notifications import gabarits, sms
from notifications.handler import Notifier
from pipeline.events import cloudevent
from tests.support.http_receiver import HttpReceiver
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db
N = Notification.Statut


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        yield server


@pytest.fixture
def customer():
    client = services.create_client(
        nom="Mme Martin", email="martin@example.fr", telephone="06 12 34 56 78"
    )
    voiture = services.create_voiture(
        marque="Peugeot",
        couleur="gris",
        modele="208",
        client=client,
        immatriculation="AB-123-CD",
    )
    return client, voiture


def _finished(voiture) -> Evenement:
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=3)
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    for action in ("planifier", "demarrer", "terminer"):
        services.transition(reparation=rep, action=action)
    return Evenement.objects.get(sujet=f"reparation/{rep.pk}", type="reparation.terminee")


def _delivery(event: Evenement, attempt: int = 0) -> Delivery:
    body = json.dumps(cloudevent(event)).encode()
    return Delivery(body, str(event.id), {"x-garage-attempt": attempt} if attempt else {}, 1)


def _notifier(tmp_path, provider=None, **kw) -> Notifier:
    return Notifier(gabarits.charger(), provider or sms.FileSms(tmp_path / "sms"), **kw)


# --- templates ---------------------------------------------------------------------------
def test_the_built_in_templates_load_and_render_in_french():
    loaded = gabarits.charger()
    assert set(loaded) == {(k, c) for k in gabarits.VARIABLES for c in gabarits.CANAUX}
    objet, corps = loaded["voiture_prete", "email"].rendre(
        {
            "client": "Mme Martin",
            "vehicule": "Peugeot 208",
            "immatriculation": "AB123CD",
            "garage": "Garage du Pont",
            "reparation": 1,
            "total_ttc": "86,40",
        }
    )
    assert objet == "votre Peugeot 208 est prêt"
    assert "Bonjour Mme Martin" in corps and "86,40 € TTC" in corps


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Objet : x\n\nBonjour {clien}", "unknown variable(s) clien"),
        ("Objet : x\n\nBonjour {client.nom}", "is not a plain {variable}"),
        ("Objet : x\n\nBonjour {client", "template"),
        ("Bonjour {client}", "first line must be 'Objet : ...'"),
    ],
)
def test_a_bad_template_stops_the_notifier_at_start_up(tmp_path, settings, text, reason):
    folder = tmp_path / "gabarits"
    shutil.copytree(gabarits.BUILTIN, folder)
    (folder / "voiture_prete.email.txt").write_text(text)
    settings.GARAGE_NOTIFIER_TEMPLATES = str(folder)
    with pytest.raises(ImproperlyConfigured, match=r"voiture_prete\.email\.txt") as err:
        call_command("notifier", "--check")
    assert reason in str(err.value)


def test_a_missing_template_stops_it_too(tmp_path, settings):
    folder = tmp_path / "gabarits"
    shutil.copytree(gabarits.BUILTIN, folder)
    (folder / "rappel_du.sms.txt").unlink()
    settings.GARAGE_NOTIFIER_TEMPLATES = str(folder)
    with pytest.raises(ImproperlyConfigured, match=r"rappel_du\.sms\.txt is missing"):
        call_command("notifier", "--check")


# --- consent, once per event and channel ---------------------------------------------------
def test_the_car_is_ready_by_email_once_with_consent_and_no_sms_without(smtp, customer, tmp_path):
    client, voiture = customer
    enregistrer_consentement(client=client, canal="email", accorde=True, source="comptoir")
    event = _finished(voiture)
    notifier = _notifier(tmp_path)
    assert notifier([_delivery(event)]) == [ACK]
    assert notifier([_delivery(event)]) == [ACK]  # delivered twice: still one message
    [mail] = smtp.messages
    assert mail["To"] == "martin@example.fr" and mail["Subject"] == "votre Peugeot 208 est prêt"
    assert mail["X-Garage-Evenement"] == str(event.id)
    assert "AB123CD" in mail.get_payload(decode=True).decode()
    states = dict(Notification.objects.values_list("canal", "statut"))
    assert states == {"email": N.ENVOYEE, "sms": N.SANS_CONSENTEMENT}
    assert not (tmp_path / "sms").exists()


def test_no_consent_no_message_and_it_is_recorded(smtp, customer, tmp_path, admin_api):
    client, voiture = customer
    enregistrer_consentement(client=client, canal="sms", accorde=False, source="formulaire web")
    event = _finished(voiture)
    assert _notifier(tmp_path)([_delivery(event)]) == [ACK]
    assert smtp.messages == []
    rep = event.donnees["reparation"]
    answer = admin_api.get(f"/api/reparation/{rep}/notifications/").json()
    assert [(n["canal"], n["statut"]) for n in answer] == [
        ("email", "sans_consentement"),
        ("sms", "sans_consentement"),
    ]


def test_sms_to_files_and_events_that_need_no_message(customer, tmp_path):
    client, voiture = customer
    enregistrer_consentement(client=client, canal="sms", accorde=True, source="comptoir")
    event = _finished(voiture)
    notifier = _notifier(tmp_path)
    assert notifier([_delivery(event)]) == [ACK]
    [written] = (tmp_path / "sms").iterdir()
    sent = json.loads(written.read_text())
    assert sent["to"] == "06 12 34 56 78" and "est prêt" in sent["text"]
    # the other events of the repair call for no message
    others = Evenement.objects.exclude(pk=event.pk)
    assert notifier([_delivery(e) for e in others]) == [ACK] * others.count()
    assert Notification.objects.count() == 2  # email (no consent) and sms


def test_consent_needs_a_channel_and_a_source(customer):
    client, _ = customer
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        enregistrer_consentement(client=client, canal="pigeon", accorde=True, source="x")
    assert "canal" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        enregistrer_consentement(client=client, canal="sms", accorde=True, source=" ")
    assert "source" in err.value.message_dict


def test_the_estimate_email_carries_its_working_link(smtp, customer, tmp_path, settings):
    from django.test import Client as Browser

    client, voiture = customer
    enregistrer_consentement(client=client, canal="email", accorde=True, source="comptoir")
    piece = services.create_piece(nom="Disque", prix=Decimal("80.00"), stock=2)
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    devis, _ = services.envoyer_devis(devis=services.create_devis(reparation=rep))
    event = Evenement.objects.get(type="devis.envoye")
    assert _notifier(tmp_path)([_delivery(event)]) == [ACK]
    [mail] = smtp.messages
    body = mail.get_payload(decode=True).decode()
    assert devis.numero in mail["Subject"]
    [link] = [w for w in body.split() if w.startswith(settings.GARAGE_URL_PUBLIQUE)]
    page = Browser().get(link.removeprefix(settings.GARAGE_URL_PUBLIQUE))
    assert page.status_code == 200 and devis.numero in page.content.decode()


def test_parts_arrived_and_work_planned(smtp, customer, tmp_path):
    client, voiture = customer
    enregistrer_consentement(client=client, canal="email", accorde=True, source="comptoir")
    piece = services.create_piece(nom="Disque", prix=Decimal("80.00"), stock=0)
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    services.transition(reparation=rep, action="planifier")
    services.receive_stock(piece=piece, quantite=1)
    notifier = _notifier(tmp_path)
    events = Evenement.objects.filter(sujet=f"reparation/{rep.pk}").order_by("sequence")
    assert notifier([_delivery(e) for e in events]) == [ACK] * 3
    [mail] = smtp.messages
    assert mail["Subject"] == "les pièces de votre Peugeot 208 sont arrivées"


# --- failures -------------------------------------------------------------------------------
def test_a_malformed_event_is_dead_lettered_with_the_reason(tmp_path):
    notifier = _notifier(tmp_path)
    bad = [b"not json", b"[]", json.dumps({"specversion": "1.0", "id": "x"}).encode()]
    outcomes = notifier([Delivery(b, None, {}, i) for i, b in enumerate(bad, 1)])
    assert all(isinstance(o, DeadLetter) for o in outcomes)
    assert "not JSON" in outcomes[0].reason and "id is not a UUID" in outcomes[2].reason


def test_sms_through_the_http_provider_retried_then_abandoned(customer, tmp_path, smtp):
    client, voiture = customer
    for canal in ("email", "sms"):
        enregistrer_consentement(client=client, canal=canal, accorde=True, source="comptoir")
    event = _finished(voiture)
    with HttpReceiver() as provider:
        http = sms.HttpSms(provider.url, "secret-token", "GARAGE", timeout=2)
        notifier = _notifier(tmp_path, http, retry_limit=2)
        provider.status = 503
        [outcome] = notifier([_delivery(event)])
        assert isinstance(outcome, Retry) and "503" in outcome.reason
        assert len(smtp.messages) == 1  # the email went; only the SMS is tried again
        assert Notification.objects.get(canal="sms").statut == N.ECHEC
        provider.status = 200
        assert notifier([_delivery(event, attempt=1)]) == [ACK]
        assert len(smtp.messages) == 1  # and not again
        sms_row = Notification.objects.get(canal="sms")
        assert (sms_row.statut, sms_row.tentatives) == (N.ENVOYEE, 2)
        last = provider.requests[-1]
        assert last["headers"]["Authorization"] == "Bearer secret-token"
        sent = json.loads(last["body"])
        assert sent["to"] == "06 12 34 56 78" and sent["from"] == "GARAGE"
        # another event, the provider down for good: abandoned at the last try
        provider.status = 500
        other = _finished(voiture)
        assert isinstance(notifier([_delivery(other, attempt=2)])[0], Retry)
        row = Notification.objects.get(evenement_id=other.id, canal="sms")
        assert row.statut == N.ABANDONNEE and "500" in row.erreur


def test_a_notification_held_by_another_notifier_waits_out_its_lease(customer, tmp_path, smtp):
    client, voiture = customer
    enregistrer_consentement(client=client, canal="email", accorde=True, source="comptoir")
    event = _finished(voiture)
    # a notifier claimed it and died before recording the outcome
    Notification.objects.create(evenement_id=event.id, type="reparation.terminee", canal="email")
    [outcome] = _notifier(tmp_path, bail=60)([_delivery(event)])
    assert isinstance(outcome, Retry) and "lease" in outcome.reason
    assert smtp.messages == []
    # its lease over, the message is sent (the documented send-then-crash window)
    assert _notifier(tmp_path, bail=0)([_delivery(event)]) == [ACK]
    assert len(smtp.messages) == 1
