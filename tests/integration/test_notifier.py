"""The notifier as its own process (`manage.py notifier`), on a real RabbitMQ: events from a
repair's life reach the customer by email (a real SMTP server) and SMS (a real HTTP
receiver); a failing provider is retried through the delay queues; a malformed event is
dead-lettered with its reason; `manage.py queues` and `dlq --queue` show them."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from metier import services
from metier.models import Evenement, Notification
from metier.services.notifications import enregistrer_consentement
from tests.support.http_receiver import HttpReceiver
from tests.support.smtp import SmtpServer
from tests.support.stack import wait_until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]


def test_the_notifier_tells_the_customer_and_retries_a_failing_provider(stack, vhost):
    with SmtpServer() as smtp, HttpReceiver() as provider:
        provider.status = 503  # the SMS provider is down at first
        notifier = stack.start_notifier(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp.port),
            GARAGE_SMS_BACKEND="http",
            GARAGE_SMS_URL=provider.url,
            GARAGE_SMS_TOKEN="t0ken",
        )
        wait_until(
            lambda: vhost.depth("garage.notifier") is not None,
            timeout=30,
            message=f"the notifier's queue\n{notifier.output()}",
        )
        client = services.create_client(
            nom="M. Durand", email="durand@example.fr", telephone="+33 6 11 22 33 44"
        )
        for canal in ("email", "sms"):
            enregistrer_consentement(client=client, canal=canal, accorde=True, source="comptoir")
        voiture = services.create_voiture(marque="Renault", couleur="noir", client=client)
        piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=1)
        rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
        for action in ("planifier", "demarrer", "terminer"):
            services.transition(reparation=rep, action=action)

        def state() -> str:
            unpublished = Evenement.objects.filter(publie_le__isnull=True).count()
            rows = list(Notification.objects.values_list("canal", "statut", "erreur"))
            return f"unpublished {unpublished}, {rows}, notifier:\n{notifier.output()}"

        try:
            wait_until(lambda: len(smtp.messages) == 1, timeout=30)
        except AssertionError as exc:
            raise AssertionError(state()) from exc
        wait_until(
            lambda: len(smtp.messages) == 1,
            timeout=30,
            message="an email",
        )
        assert "est prêt" in smtp.messages[0]["Subject"]
        wait_until(
            lambda: len(provider.requests) >= 2, timeout=30, message="SMS retried"
        )  # tried, refused, tried again through garage.notifier.retry.N
        provider.status = 200
        wait_until(
            lambda: Notification.objects.filter(canal="sms", statut="envoyee").exists(),
            timeout=60,
            message=notifier.output(),
        )
        assert len(smtp.messages) == 1  # the email was not sent again with the retries
        sms_row = Notification.objects.get(canal="sms")
        assert sms_row.tentatives >= 2 and sms_row.reparation_id == rep.pk

        # a malformed event on the queue: dead-lettered, with the reason
        vhost.publish(b"{not json", queue="garage.notifier", message_id="bad-1")
        wait_until(
            lambda: vhost.depth("garage.notifier.dlq") == 1, timeout=30, message="dead letter"
        )
        out = io.StringIO()
        call_command("dlq", "list", "--queue", "garage.notifier", stdout=out)
        assert "bad-1" in out.getvalue() and "malformed event: not JSON" in out.getvalue()
        out = io.StringIO()
        call_command("queues", stdout=out)
        lines = out.getvalue()
        assert "garage.notifier " in lines and "garage.notifier.dlq" in lines
        assert notifier.terminate() == 0  # stops cleanly on SIGTERM
        body = json.loads(provider.requests[-1]["body"])
        assert body["to"] == "+33 6 11 22 33 44" and "est prêt" in body["text"]
