"""The notifier SIGKILLed again and again while 1,000 events stream in: each email arrives
once at a real SMTP server (aiosmtpd).

The one exception allowed is the send-then-crash window (README, Notifications): a notifier
killed after the SMTP server accepted a message and before `envoyee` was committed. Its
claim's lease runs out, and the next notifier sends that message again. It can happen at
most once per kill (a notifier sends one message at a time), and the test counts it.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from messaging.publisher import Publisher
from metier import services
from metier.models import Evenement, Notification
from metier.services.notifications import enregistrer_consentement
from pipeline.events import message_for
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.faults, pytest.mark.rabbitmq]
EVENTS = 1000


def test_notifier_killed_repeatedly_each_email_once(stack, vhost):
    client = services.create_client(nom="Mme Martin", email="martin@example.fr")
    enregistrer_consentement(client=client, canal="email", accorde=True, source="comptoir")
    voiture = services.create_voiture(marque="Peugeot", couleur="gris", client=client)
    piece = services.create_piece(nom="Filtre", prix=Decimal("12.00"), stock=1)
    rep = services.create_reparation(piece=piece, duree=1, voiture=voiture)
    # 1,000 distinct events (ids) for this repair's customer; one in ten published twice,
    # as the relay and the after-commit path may both do
    events = [
        Evenement(
            id=uuid.uuid4(),
            sujet=f"reparation/{rep.pk}",
            type="reparation.terminee",
            sequence=i + 1,
            donnees={
                "reparation": rep.pk,
                "de": "en_cours",
                "vers": "terminee",
                "motif": "",
                "voiture": voiture.pk,
                "client": client.pk,
                "total_ttc": "86.40",
            },
            cree_le=timezone.now(),
        )
        for i in range(EVENTS)
    ]
    with SmtpServer() as smtp:
        env = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "GARAGE_SMS_BACKEND": "",
            "GARAGE_NOTIFIER_LEASE": "1",
            "GARAGE_RETRY_LIMIT": "12",
        }
        notifier = stack.start_notifier(**env)
        done = threading.Event()

        def stream() -> None:
            with Publisher(url=vhost.url) as publisher:
                for start in range(0, EVENTS, 50):
                    chunk = events[start : start + 50]
                    twice = [e for e in chunk if random.random() < 0.1]
                    publisher.publish_many([message_for(e) for e in chunk + twice])
                    time.sleep(0.2)
            done.set()

        streamer = threading.Thread(target=stream)
        streamer.start()
        kills = 0
        deadline = time.monotonic() + 240
        while (not done.is_set() or len(smtp.per_event()) < EVENTS) and time.monotonic() < deadline:
            time.sleep(random.uniform(0.8, 2.5))
            if kills < 15 and len(smtp.per_event()) < EVENTS:
                notifier.kill()  # SIGKILL: no goodbye, a batch in hand
                kills += 1
                notifier = stack.start_notifier(**env)
        streamer.join()
        deadline = time.monotonic() + 120
        while len(smtp.per_event()) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # anything extra would show now
        counts = smtp.per_event()
        notifier.terminate()

    sent = Counter(Notification.objects.filter(canal="email").values_list("statut", flat=True))
    twice = {k: n for k, n in counts.items() if n > 1}
    print(
        f"kills {kills}, emails {sum(counts.values())}, events {len(counts)}, "
        f"twice {len(twice)}, notifications {dict(sent)}"
    )
    assert kills >= 5
    assert set(counts) == {str(e.id) for e in events}, "every event's email arrived"
    # the send-then-crash window: at most one message per kill, each at most twice
    assert len(twice) <= kills and all(n == 2 for n in twice.values()), twice
    assert sent == {"envoyee": EVENTS}
