"""`manage.py ensure_demo`: the local walkthrough's administrator and token, made once.

`make run` calls it. The first time it creates the user `demo` (a superuser, with a random
password) and a token, and keeps both in var/ (git-ignored, readable by you only); every
later run prints the same ones again. It refuses to run with DEBUG off: a demo
administrator has no place in production.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from access.services import create_account, issue_token

USERNAME = "demo"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class Command(BaseCommand):
    help = "Create (once) the local demo administrator and API token, and print how to use them."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    @transaction.atomic
    def handle(self, *args, force=False, port="8000", **opts):
        if not settings.DEBUG and not force:
            raise CommandError("ensure_demo is for local runs (DJANGO_DEBUG=1) only")
        var = Path(settings.VAR_DIR)
        token_file, password_file = var / "demo-token", var / "demo-password"

        user = get_user_model().objects.filter(username=USERNAME).first()
        password = password_file.read_text().strip() if password_file.exists() else ""
        if user is None or not password or not user.check_password(password):
            user, _ = create_account(username=USERNAME, admin=True)
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save()
            _write_private(password_file, password + "\n")

        token = token_file.read_text().strip() if token_file.exists() else ""
        row = AuthToken.objects.filter(digest=hash_token(token), user=user).first()
        soon = timezone.now() + timedelta(hours=1)
        if not token or row is None or (row.expiry is not None and row.expiry < soon):
            _, token = issue_token(user=user, ttl=timedelta(days=365))
            _write_private(token_file, token + "\n")

        base = f"http://localhost:{port}"
        try:
            shown = token_file.relative_to(Path.cwd())
        except ValueError:
            shown = token_file
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Local demo (DEBUG only; kept in {shown.parent}/demo-*, yours alone):",
                    f"  admin site: {base}/admin/  user: {USERNAME}  password: {password}",
                    f"  API token:  {token}",
                    f"  use it:     TOKEN=$(cat {shown})",
                    f'              curl -H "Authorization: Token $TOKEN" {base}/api/piece/',
                    f"  API docs:   {base}/api/docs/",
                    f"  workshop:   {base}/atelier/  (the live board; same user)",
                    "",
                ]
            )
        )
