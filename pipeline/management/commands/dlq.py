import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from messaging.config import for_queue, topology
from messaging.deadletters import list_dead_letters, replay_dead_letters
from pipeline.demandes import reopen_demandes
from pipeline.messages import key_for


class Command(BaseCommand):
    help = (
        "Dead letters (`garage.dlq`, or an event consumer's with --queue garage.notifier): "
        "list them, show one, replay some or all."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue",
            default=None,
            help="whose dead letters: the main queue (default), or a consuming service's "
            "(garage.notifier, garage.webhooks); also accepted after the action",
        )
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="one line per dead letter: position, id, reason")
        show = sub.add_parser("show", help="one dead letter in full")
        show.add_argument("position", type=int)
        replay = sub.add_parser("replay", help="send dead letters back to their queue")
        replay.add_argument("message_ids", nargs="*", help="message ids to replay")
        replay.add_argument("--all", action="store_true", help="replay every dead letter")
        for p in (listing, show, replay):
            # SUPPRESS: given here or before the action, whichever was given counts.
            p.add_argument(
                "--queue", default=argparse.SUPPRESS, help="the consuming queue (as above)"
            )

    def handle(self, *args, action: str, **options):
        main = topology()
        queue = options.get("queue") or main.queue
        known = [main.queue, *(name for name, _keys in main.event_queues)]
        if queue not in known:
            raise CommandError(f"unknown queue {queue!r}: one of {', '.join(known)}")
        topo = for_queue(main, queue)
        if action == "list":
            letters = list_dead_letters(topo=topo)
            for letter in letters:
                self.stdout.write(
                    f"{letter.position:>5}  {letter.message_id or '-':<38} {letter.reason}"
                )
            self.stdout.write(f"{len(letters)} dead letter(s)")
        elif action == "show":
            letters = {letter.position: letter for letter in list_dead_letters(topo=topo)}
            letter = letters.get(options["position"])
            if letter is None:
                raise CommandError(f"no dead letter at position {options['position']}")
            self.stdout.write(
                json.dumps(
                    {
                        "position": letter.position,
                        "message_id": letter.message_id,
                        "request_id": letter.correlation_id,
                        "reason": letter.reason,
                        "headers": {k: str(v) for k, v in letter.headers.items()},
                        "body": letter.body.decode(errors="replace"),
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        else:
            wanted = set(options["message_ids"])
            if not wanted and not options["all"]:
                raise CommandError("name message ids to replay, or --all")

            def reopen(letters):
                # A rejection is final for the consumer; replaying is the operator saying
                # "try again", so the requests concerned are reopened first.
                reopen_demandes(ids=[k for k in (key_for(x.message_id) for x in letters) if k])

            replayed = replay_dead_letters(
                lambda letter: options["all"] or letter.message_id in wanted,
                # events carry no request to reopen: the consumer's own records decide
                before_replay=reopen if queue == main.queue else None,
                topo=topo,
            )
            self.stdout.write(f"replayed {len(replayed)} dead letter(s)")
