"""`manage.py revoke_tokens (--user NAME | --key KEY | --expired)`: delete API tokens."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from access.services import revoke_tokens


class Command(BaseCommand):
    help = "Revoke API tokens: all of a user's, one (by its first 15 characters), or expired."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="every token of this user")
        parser.add_argument("--key", help="the token that starts with these 15 characters")
        parser.add_argument("--expired", action="store_true", help="every expired token")

    def handle(self, *args, user=None, key=None, expired=False, **opts):
        owner = None
        if user:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user named {user!r}")
        try:
            count = revoke_tokens(user=owner, token_key=key, expired=expired)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"revoked {count} token(s)")
