"""The notifications service (issue 12): its own process (`python manage.py notifier`), its
own durable queue `garage.notifier` bound to `garage.events`. It tells customers, in French,
that their car is ready, that an estimate awaits their approval (with its link), that the
parts arrived and the work is planned, that a reminder is due; by email (Django's email
backends) and SMS (`sms.py`: a provider interface, an HTTP adapter, a file backend), only on
the channels they consented to, once per event and channel.

- `gabarits.py` and `gabarits/`: the templates, checked when the process starts;
- `sms.py`: the SMS providers;
- `handler.py`: the batch handler (event → messages → outcomes for the consumer);
- `management/commands/notifier.py`: the process.
"""
