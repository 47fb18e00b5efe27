"""When did each consumer batch commit? Observed from outside, in its own process.

`Demande.traitee_le` is the batch's `now`, taken when the consumer's transaction *starts*;
the commit comes later. During the latency phase the harness puts a statement-level trigger
on the bench database's `metier_demande` (never on the app's schema or code): each UPDATE that
marks requests `traitee` sends `pg_notify('bench_commit', <epoch of that traitee_le>)`.
PostgreSQL delivers a notification only when its transaction commits, so the time this
process receives it is an upper bound of the commit time (by the delivery delay, well under
a millisecond on loopback). Lines written: `<payload> <receive epoch>`.

    python -m bench.commitwatch DATABASE_URL OUTFILE
"""

from __future__ import annotations

import signal
import sys
import time

import psycopg

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION bench_notify_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE stamp text;
BEGIN
  SELECT extract(epoch FROM max(traitee_le))::text INTO stamp
    FROM bench_new_rows WHERE statut = 'traitee';
  IF stamp IS NOT NULL THEN
    PERFORM pg_notify('bench_commit', stamp);
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_commit ON metier_demande;
CREATE TRIGGER bench_commit AFTER UPDATE ON metier_demande
  REFERENCING NEW TABLE AS bench_new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION bench_notify_commit();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS bench_commit ON metier_demande;
DROP FUNCTION IF EXISTS bench_notify_commit();
"""


def main(url: str, outfile: str) -> None:
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with psycopg.connect(url, autocommit=True) as conn, open(outfile, "w") as out:
        conn.execute("LISTEN bench_commit")
        print("listening", flush=True)
        while not stop["now"]:
            for note in conn.notifies(timeout=0.2):
                out.write(f"{note.payload} {time.time():.6f}\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
