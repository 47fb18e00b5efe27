"""`manage.py create_account NAME [--role R]... [--perm P]... [--service] [--admin]`

Creates (or updates) a user and prints a new token on stdout, alone, so that
`TOKEN=$(python manage.py create_account bot --service --perm metier.add_demande)` works;
everything else goes to stderr.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from access.roles import ROLES
from access.services import create_account, issue_token, parse_ttl


class Command(BaseCommand):
    help = "Create or update a user or service account, and print a new API token for it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            choices=sorted(ROLES),
            help="a role (repeatable); replaces the user's roles",
        )
        parser.add_argument(
            "--perm",
            action="append",
            metavar="APP.CODENAME",
            help="a permission of its own, e.g. metier.add_demande (repeatable)",
        )
        parser.add_argument(
            "--service",
            action="store_true",
            help="a program's account: no password, no admin site, tokens only",
        )
        parser.add_argument("--admin", action="store_true", help="a superuser: every right")
        parser.add_argument(
            "--token-ttl",
            default=None,
            help="how long the token is valid: 90m, 12h, 30d or never "
            "(default: GARAGE_TOKEN_TTL_HOURS)",
        )
        parser.add_argument("--no-token", action="store_true", help="do not issue a token")

    def handle(self, *args, **opts):
        try:
            ttl = parse_ttl(opts["token_ttl"]) if opts["token_ttl"] else None
            user, created = create_account(
                username=opts["username"],
                roles=opts["role"],
                permissions=opts["perm"],
                service=opts["service"],
                admin=opts["admin"],
            )
            if opts["no_token"]:
                token_row, token = None, None
            elif opts["token_ttl"]:
                token_row, token = issue_token(user=user, ttl=ttl)
            else:
                token_row, token = issue_token(user=user)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        kind = "service account" if opts["service"] else "user"
        kind = "administrator" if opts["admin"] else kind
        roles = ", ".join(user.groups.values_list("name", flat=True)) or "none"
        done = "created" if created else "updated"
        self.stderr.write(f"{done} {kind} {user.username} (roles: {roles})")
        if created and not opts["service"]:
            self.stderr.write(f"password: python manage.py changepassword {user.username}")
        if token is not None:
            expiry = token_row.expiry.isoformat(timespec="seconds") if token_row.expiry else "never"
            self.stderr.write(f"token (shown once; expires {expiry}):")
            self.stdout.write(token)
