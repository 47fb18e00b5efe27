"""The Celery peer of the benchmark (issue 10): the usual way to build this pipeline.

A minimal Django project, separate from the app: a view validates `{piece, duree}` and
queues a Celery task into RabbitMQ (publisher confirms), answering 202 with the task id; a
Celery worker (prefork, `acks_late`, `task_reject_on_worker_lost`) checks that the part
exists and writes a request row and a repair row referencing it, in one transaction, into
the peer's own PostgreSQL database. No authentication, throttling, idempotency or outbox:
it does less than the app, so a ratio against it is a conservative one.

Settings from the environment: PEER_DATABASE_URL, PEER_AMQP_URL (bench/peerstack.py sets
both: its own database and vhost).
"""
