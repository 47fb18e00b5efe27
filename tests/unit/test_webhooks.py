"""Webhooks (issue 12, part 3): patterns, the SSRF guard, the API and the admin, recording
events, ordering per subject, backoff and the pause rule, and signed deliveries to a real
HTTP receiver (http.server) that verifies them with the standardwebhooks library."""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from messaging.consumer import ACK, DeadLetter, Delivery
from metier.models import AbonnementWebhook, EvenementWebhook, LivraisonWebhook
from metier.services import webhooks as service
from tests.support.accounts import make_account, token_client
from tests.support.api_cases import APIViewTestCases
from tests.support.stack import wait_until
from tests.support.webhooks import Receiver, body, cloudevent
from webhooks import adresses, evenements, livraison

PUBLIC_URL = "https://93.184.216.34/hook"  # an IP literal: no DNS needed


def delivery(raw: bytes, tag: int = 1) -> Delivery:
    return Delivery(body=raw, message_id=None, headers={}, delivery_tag=tag)


def record(*events: dict) -> list:
    outcomes = evenements.handle_batch([delivery(body(e), i) for i, e in enumerate(events, 1)])
    assert outcomes == [ACK] * len(events)
    return outcomes


# --- patterns -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "motif, cle, expected",
    [
        ("#", "reparation.terminee", True),
        ("reparation.*", "reparation.terminee", True),
        ("reparation.*", "devis.envoye", False),
        ("*.terminee", "reparation.terminee", True),
        ("facture.emise", "facture.emise", True),
        ("facture.emise", "facture.emise.x", False),
        ("reparation.#", "reparation", True),
        ("#.recue", "piece.recue", True),
        ("*", "piece.recue", False),
    ],
)
def test_patterns_match_as_a_topic_exchange(motif, cle, expected):
    assert service.correspond(motif, cle) is expected


@pytest.mark.parametrize("types", [[], "reparation.*", ["Reparation.*"], ["a..b"], [""], [3]])
def test_bad_patterns_are_refused_on_types(types):
    with pytest.raises(Exception) as info:
        service.valider_types(types)
    assert "types" in info.value.message_dict


def test_secret_is_whsec_and_base64():
    secret = service.nouveau_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted_and_survives_a_key_rotation(settings):
    abonnement = _abonnement()
    secret = abonnement.secret
    stored = AbonnementWebhook.objects.values_list("secret_chiffre", flat=True).get()
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert AbonnementWebhook.objects.get().secret == secret
    call_command("webhooks", "--rechiffrer", stdout=io.StringIO())
    settings.SECRET_KEY_FALLBACKS = []
    assert AbonnementWebhook.objects.get().secret == secret  # now under the new key only
    settings.SECRET_KEY = old_key
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FALLBACKS"):
        AbonnementWebhook.objects.get().secret  # noqa: B018


# --- SSRF guard ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # CGNAT
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::",
    ],
)
def test_non_public_addresses_are_refused(settings, address):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False
    assert adresses.raison_refus(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(settings, address):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False
    assert adresses.raison_refus(ipaddress.ip_address(address)) is None


def test_the_setting_allows_loopback_and_private_never_multicast(settings):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    for allowed in ("127.0.0.1", "10.1.2.3", "::1"):
        assert adresses.raison_refus(ipaddress.ip_address(allowed)) is None
    for refused in ("224.0.0.1", "0.0.0.0"):
        assert adresses.raison_refus(ipaddress.ip_address(refused)) is not None


def test_a_host_name_is_resolved_and_every_address_checked(settings):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(adresses.AdresseRefusee, match="loopback"):
        adresses.verifier_url("http://localhost:8080/hook")
    with pytest.raises(adresses.AdresseRefusee, match="cannot resolve"):
        adresses.verifier_url("http://no-such-host.invalid/hook")
    with pytest.raises(adresses.AdresseRefusee, match="http"):
        adresses.verifier_url("ftp://93.184.216.34/hook")
    with pytest.raises(adresses.AdresseRefusee, match="user name"):
        adresses.verifier_url("http://u:p@93.184.216.34/hook")
    adresses.verifier_url(PUBLIC_URL)


# --- API ----------------------------------------------------------------------------------------
def _abonnement(url: str = PUBLIC_URL, types: tuple[str, ...] = ("#",)) -> AbonnementWebhook:
    return service.create_abonnement(url=url, types=list(types))


class TestAbonnementWebhookAPI(APIViewTestCases.ModelViewSet, APIViewTestCases.ActionChecks):
    model = AbonnementWebhook
    basename = "webhook"
    role_access = {"administrateur": "crud"}
    custom_actions = {
        "pause": ("post", True, "metier.change_abonnementwebhook", ("administrateur",)),
        "reprendre": ("post", True, "metier.change_abonnementwebhook", ("administrateur",)),
    }

    def make(self):
        return _abonnement()

    def create_data(self):
        return {"url": PUBLIC_URL, "types": ["reparation.*"]}

    def update_data(self):
        return {"url": "https://93.184.216.35/other", "types": ["#"]}


class TestLivraisonWebhookAPI(APIViewTestCases.ReadOnlyViewSet):
    model = LivraisonWebhook
    basename = "webhook-livraison"
    role_access = {"administrateur": "r"}

    def make(self):
        _abonnement()
        event = cloudevent(
            "reparation.terminee", f"reparation/{EvenementWebhook.objects.count()}", 1
        )
        record(event)
        return LivraisonWebhook.objects.get(evenement_id=event["id"])


@pytest.fixture
def administrateur(db):
    return token_client(make_account("administrateur")[1])


def test_the_secret_is_shown_once(administrateur):
    response = administrateur.post(
        reverse("webhook-list"), {"url": PUBLIC_URL, "types": ["reparation.*"]}, format="json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["statut"] == "actif"
    detail = administrateur.get(reverse("webhook-detail", args=[created["id"]])).json()
    listed = administrateur.get(reverse("webhook-list")).json()["results"]
    patched = administrateur.patch(
        reverse("webhook-detail", args=[created["id"]]), {"types": ["#"]}, format="json"
    ).json()
    for shown in (detail, *listed, patched):
        assert "secret" not in shown
        assert created["secret"] not in json.dumps(shown)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "http://no-such-host.invalid/",
        "file:///etc/passwd",
    ],
)
def test_a_subscription_to_a_private_address_is_a_400_on_url(administrateur, settings, url):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False
    response = administrateur.post(
        reverse("webhook-list"), {"url": url, "types": ["#"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["url"]
    assert not AbonnementWebhook.objects.exists()


def test_changing_the_url_to_a_private_address_is_refused_too(administrateur, settings):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False
    abonnement = _abonnement()
    response = administrateur.patch(
        reverse("webhook-detail", args=[abonnement.pk]),
        {"url": "http://192.168.1.1/"},
        format="json",
    )
    assert response.status_code == 400 and "url" in response.json()


def test_bad_types_are_a_400_on_types(administrateur):
    response = administrateur.post(
        reverse("webhook-list"), {"url": PUBLIC_URL, "types": ["Pas un motif"]}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["types"]


def test_pause_and_resume(administrateur):
    abonnement = _abonnement()
    paused = administrateur.post(reverse("webhook-pause", args=[abonnement.pk])).json()
    assert paused["statut"] == "en_pause" and paused["motif_pause"]
    resumed = administrateur.post(reverse("webhook-reprendre", args=[abonnement.pk])).json()
    assert resumed["statut"] == "actif" and resumed["motif_pause"] == ""


def test_the_delivery_log_shows_attempts_codes_and_next_try(administrateur):
    abonnement = _abonnement()
    event = cloudevent("facture.emise", "facture/1", 1)
    record(event)
    row = LivraisonWebhook.objects.get()
    service.noter_echec(livraison=row, code=503, erreur="HTTP 503", duree_ms=12)
    listed = administrateur.get(
        reverse("webhook-livraison-list"), {"abonnement": abonnement.pk}
    ).json()["results"]
    assert len(listed) == 1
    shown = listed[0]
    assert shown["evenement"] == event["id"]
    assert shown["type"] == "facture.emise"
    assert shown["statut"] == "en_attente"
    assert shown["tentatives"] == 1 and shown["dernier_code"] == 503
    assert shown["prochain_essai"] is not None
    assert shown["essais"] == [
        {"le": shown["essais"][0]["le"], "code": 503, "erreur": "HTTP 503", "duree_ms": 12}
    ]


# --- recording events ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_each_matching_subscription_gets_one_delivery_even_when_redelivered():
    everything = _abonnement(types=("#",))
    repairs = _abonnement(types=("reparation.*",))
    _abonnement(types=("facture.emise",))
    event = cloudevent("reparation.terminee", "reparation/1", 1)
    record(event)
    record(event)  # RabbitMQ delivers it again
    rows = LivraisonWebhook.objects.filter(evenement_id=event["id"])
    assert sorted(r.abonnement_id for r in rows) == sorted([everything.pk, repairs.pk])
    assert EvenementWebhook.objects.count() == 1


@pytest.mark.django_db
def test_an_event_no_subscription_wants_is_not_kept():
    _abonnement(types=("facture.emise",))
    record(cloudevent("reparation.planifiee", "reparation/7", 1))
    assert EvenementWebhook.objects.count() == 0 and LivraisonWebhook.objects.count() == 0
    record(cloudevent("facture.emise", "facture/3", 1))
    assert EvenementWebhook.objects.count() == 1 and LivraisonWebhook.objects.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({**cloudevent("reparation.terminee", "reparation/1", 1), "specversion": "0.3"}),
        json.dumps({k: v for k, v in cloudevent("a.b", "a/1", 1).items() if k != "id"}),
        json.dumps({**cloudevent("a.b", "a/1", 1), "sequence": "1"}),
        json.dumps({**cloudevent("a.b", "a/1", 1), "sequence": 0}),
        json.dumps({**cloudevent("a.b", "a/1", 1), "sequence": 2**64}),
        json.dumps({**cloudevent("a.b", "a/1", 1), "subject": "a/\u0000"}),
        json.dumps({**cloudevent("a.b", "a/1", 1), "type": "com.other.a.b"}),
        json.dumps({k: v for k, v in cloudevent("a.b", "a/1", 1).items() if k != "subject"}),
    ],
)
@pytest.mark.django_db
def test_a_malformed_event_is_dead_lettered(raw):
    raw = raw if isinstance(raw, bytes) else raw.encode()
    _abonnement()  # someone wants the good one
    good = cloudevent("piece.recue", "piece/1", 1)
    outcomes = evenements.handle_batch([delivery(raw, 1), delivery(body(good), 2)])
    assert isinstance(outcomes[0], DeadLetter) and "malformed event" in outcomes[0].reason
    assert outcomes[1] is ACK
    assert list(EvenementWebhook.objects.values_list("id", flat=True)) == [good["id"]]


# --- order per subject, backoff, pause ------------------------------------------------------------
def _due() -> list[tuple[str, int]]:
    return [(d.sujet, d.sequence) for d in service.livraisons_dues(attente_trou=60)]


@pytest.mark.django_db
def test_per_subject_only_the_first_pending_delivery_is_due():
    _abonnement()
    record(
        cloudevent("reparation.planifiee", "reparation/1", 1),
        cloudevent("reparation.demarree", "reparation/1", 2),
        cloudevent("reparation.planifiee", "reparation/2", 1),
    )
    assert sorted(_due()) == [("reparation/1", 1), ("reparation/2", 1)]
    first = LivraisonWebhook.objects.get(sujet="reparation/1", sequence=1)
    service.noter_echec(livraison=first, code=500, erreur="HTTP 500", duree_ms=1)
    # Failed and waiting for its retry: the next one of its subject still waits behind it.
    assert _due() == [("reparation/2", 1)]
    service.noter_succes(livraison=first, code=200, duree_ms=1)
    assert sorted(_due()) == [("reparation/1", 2), ("reparation/2", 1)]


@pytest.mark.django_db
def test_an_event_whose_predecessor_has_not_arrived_waits_for_it():
    _abonnement()
    record(cloudevent("reparation.planifiee", "reparation/1", 1))
    LivraisonWebhook.objects.update(statut=LivraisonWebhook.Statut.LIVREE)
    record(cloudevent("reparation.terminee", "reparation/1", 3))  # 2 is late
    assert _due() == []
    # ... but not forever
    assert [d.sequence for d in service.livraisons_dues(attente_trou=0)] == [3]
    late = cloudevent("reparation.demarree", "reparation/1", 2)
    record(late)
    assert _due() == [("reparation/1", 2)]


@pytest.mark.django_db
def test_the_first_event_seen_of_a_subject_does_not_wait_for_older_ones():
    _abonnement()
    record(cloudevent("reparation.terminee", "reparation/9", 7))
    assert _due() == [("reparation/9", 7)]


@pytest.mark.django_db
def test_failures_back_off_exponentially(settings):
    settings.GARAGE_WEBHOOK_RETRY_BASE_S = 5
    settings.GARAGE_WEBHOOK_RETRY_CAP_S = 3600
    delays = [service.delai_avant_essai(n) for n in range(1, 12)]
    for n, delay in enumerate(delays, 1):
        assert 0.8 * min(3600, 5 * 2 ** (n - 1)) <= delay <= min(3600, 5 * 2 ** (n - 1))
    _abonnement()
    record(cloudevent("piece.sous_seuil", "piece/1", 1))
    row = LivraisonWebhook.objects.get()
    before = timezone.now()
    service.noter_echec(livraison=row, code=None, erreur="connection refused", duree_ms=1)
    row.refresh_from_db()
    assert row.tentatives == 1
    assert before + timedelta(seconds=3.9) <= row.prochain_essai <= before + timedelta(seconds=6)


@pytest.mark.django_db
def test_delivered_deliveries_are_purged_pending_ones_kept():
    _abonnement()
    record(cloudevent("a.b", "a/1", 1), cloudevent("a.b", "a/2", 1))
    first, _second = LivraisonWebhook.objects.order_by("id")
    service.noter_succes(livraison=first, code=200, duree_ms=1)
    LivraisonWebhook.objects.filter(pk=first.pk).update(
        livree_le=timezone.now() - timedelta(days=40)
    )
    EvenementWebhook.objects.update(recu_le=timezone.now() - timedelta(days=40))
    out = io.StringIO()
    call_command("webhooks", "--purger-jours", "30", stdout=out)
    assert "removed 1 delivered deliveries, 1 events" in out.getvalue()
    assert list(LivraisonWebhook.objects.values_list("sujet", flat=True)) == ["a/2"]
    assert service.delai_avant_essai(5000) <= 3600  # no overflow, however many attempts


@pytest.mark.django_db
def test_a_subscription_failing_for_24h_and_10_times_is_paused(settings):
    settings.GARAGE_WEBHOOK_PAUSE_AFTER_S = 24 * 3600
    settings.GARAGE_WEBHOOK_PAUSE_FAILURES = 10
    abonnement = _abonnement()
    record(cloudevent("piece.sous_seuil", "piece/1", 1))
    row = LivraisonWebhook.objects.get()
    start = timezone.now()
    for i in range(12):  # 12 failures within an hour: not paused
        row.refresh_from_db()
        assert not service.noter_echec(
            livraison=row,
            code=500,
            erreur="HTTP 500",
            duree_ms=1,
            maintenant=start + timedelta(minutes=5 * i),
        )
    row.refresh_from_db()
    assert service.noter_echec(
        livraison=row,
        code=500,
        erreur="HTTP 500",
        duree_ms=1,
        maintenant=start + timedelta(hours=24, minutes=1),
    )
    abonnement.refresh_from_db()
    assert abonnement.statut == "en_pause" and "13 failures" in abonnement.motif_pause
    assert service.livraisons_dues(attente_trou=60).count() == 0  # held, not dropped
    service.reprendre(abonnement=abonnement)
    assert _due() == [("piece/1", 1)]


@pytest.mark.django_db
def test_a_success_resets_the_failure_run():
    abonnement = _abonnement()
    record(cloudevent("a.b", "a/1", 1), cloudevent("a.b", "a/2", 1))
    first, second = LivraisonWebhook.objects.order_by("id")
    service.noter_echec(livraison=first, code=500, erreur="x", duree_ms=1)
    service.noter_succes(livraison=second, code=200, duree_ms=1)
    abonnement.refresh_from_db()
    assert abonnement.echecs_consecutifs == 0 and abonnement.en_echec_depuis is None


@pytest.mark.django_db
def test_410_gone_pauses_at_once():
    abonnement = _abonnement()
    record(cloudevent("a.b", "a/1", 1))
    assert service.noter_echec(
        livraison=LivraisonWebhook.objects.get(), code=410, erreur="HTTP 410", duree_ms=1
    )
    abonnement.refresh_from_db()
    assert abonnement.statut == "en_pause" and "410" in abonnement.motif_pause


# --- real deliveries to a real receiver -----------------------------------------------------------
@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.mark.django_db
def test_deliveries_are_signed_and_verified_by_the_receiver(settings, receiver):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    abonnement = _abonnement(url=receiver.url)
    receiver.secret = abonnement.secret
    events = [cloudevent("reparation.terminee", "reparation/1", n) for n in (1, 2, 3)]
    record(*events)
    while livraison.tour():
        pass
    assert receiver.bad_signatures == []
    assert [e["id"] for e in receiver.events()] == [e["id"] for e in events]
    first = receiver.received[0]["headers"]
    assert first["webhook-id"] == events[0]["id"]
    assert first["webhook-signature"].startswith("v1,")
    assert first["content-type"] == "application/cloudevents+json"
    assert LivraisonWebhook.objects.filter(statut="livree").count() == 3


@pytest.mark.django_db
def test_a_wrong_secret_fails_verification(settings, receiver):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    _abonnement(url=receiver.url)
    receiver.secret = service.nouveau_secret()  # not the subscription's
    record(cloudevent("a.b", "a/1", 1))
    livraison.tour()
    assert len(receiver.bad_signatures) == 1
    row = LivraisonWebhook.objects.get()
    assert row.statut == "en_attente" and row.dernier_code == 401


@pytest.mark.django_db
def test_no_delivery_to_loopback_unless_allowed(settings, receiver):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    abonnement = _abonnement(url=receiver.url)
    receiver.secret = abonnement.secret
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False  # e.g. the host now resolves elsewhere
    record(cloudevent("a.b", "a/1", 1))
    livraison.tour()
    row = LivraisonWebhook.objects.get()
    assert receiver.received == [] and receiver.bad_signatures == []
    assert row.statut == "en_attente" and "refused" in row.derniere_erreur


@pytest.mark.django_db
def test_an_error_status_is_retried_later_and_the_log_keeps_each_attempt(settings, receiver):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    settings.GARAGE_WEBHOOK_RETRY_BASE_S = 0
    abonnement = _abonnement(url=receiver.url)
    receiver.secret = abonnement.secret
    receiver.status = 503
    record(cloudevent("a.b", "a/1", 1))
    livraison.tour()
    receiver.status = 200
    livraison.tour()
    row = LivraisonWebhook.objects.get()
    assert row.statut == "livree" and row.tentatives == 2
    assert [e.code for e in row.essais.all()] == [503, 200]
    assert len(receiver.received) == 1


# --- admin ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_admin_says_a_subscription_is_paused(client, admin_user):
    abonnement = _abonnement()
    service.mettre_en_pause(abonnement=abonnement, motif="the receiver answered 410 Gone")
    client.force_login(admin_user)
    page = client.get(reverse("admin:metier_abonnementwebhook_changelist")).content.decode()
    assert "EN PAUSE" in page and "410 Gone" in page
    page = client.get(
        reverse("admin:metier_abonnementwebhook_change", args=[abonnement.pk])
    ).content.decode()
    assert "EN PAUSE" in page
    assert abonnement.secret not in page


@pytest.mark.django_db
def test_the_admin_refuses_a_private_url_and_shows_the_secret_once(client, admin_user, settings):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = False
    client.force_login(admin_user)
    add = reverse("admin:metier_abonnementwebhook_add")
    response = client.post(add, {"url": "http://127.0.0.1/", "types": '["#"]'})
    assert response.status_code == 200 and "loopback" in response.content.decode()
    response = client.post(add, {"url": PUBLIC_URL, "types": '["#"]'}, follow=True)
    abonnement = AbonnementWebhook.objects.get()
    assert abonnement.secret in response.content.decode()
    log = client.get(reverse("admin:metier_livraisonwebhook_changelist"))
    assert log.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_slow_receiver_holds_up_only_its_own_deliveries(settings):
    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    slow, fast = Receiver(), Receiver()
    slow.delay = 2
    try:
        slow.secret = _abonnement(url=slow.url).secret
        fast.secret = _abonnement(url=fast.url).secret
        record(*(cloudevent("a.b", f"a/{n}", 1) for n in range(3)))
        livreur = livraison.Livreur(senders=2)
        started = time.monotonic()
        assert livreur.tour() == 2
        assert livreur.tour() == 0  # both subscriptions have their sender
        wait_until(lambda: len(fast.received) == 3, timeout=5)
        assert time.monotonic() - started < 1.5  # not behind the slow one's 2 s answers
        livreur.close()
        assert len(slow.received) == 3 and not slow.bad_signatures and not fast.bad_signatures
    finally:
        slow.close()
        fast.close()


def _self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for `localhost` that no authority signed, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.mark.django_db
def test_https_verifies_the_receivers_certificate(settings, receiver, tmp_path):
    import ssl

    settings.GARAGE_WEBHOOK_ALLOW_PRIVATE = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    abonnement = _abonnement(url=f"https://localhost:{receiver.port}/hook")
    receiver.secret = abonnement.secret
    record(cloudevent("a.b", "a/1", 1))
    livraison.tour()
    row = LivraisonWebhook.objects.get()
    assert receiver.received == []
    assert row.statut == "en_attente" and "CERTIFICATE_VERIFY_FAILED" in row.derniere_erreur
