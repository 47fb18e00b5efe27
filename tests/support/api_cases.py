"""Reusable permission checks for the API, in the way of NetBox's `APIViewTestCases`.

A test class for an endpoint declares its model, its router basename, how to make an object
and what to send, and which roles may do what; it inherits every check:

    class TestPieceAPI(APIViewTestCases.ModelViewSet):
        model = Piece
        basename = "piece"
        role_access = {"magasinier": "crud", "accueil": "r", "mecanicien": "r"}

        def make(self): return create_piece(nom="Filtre", prix="10")
        def create_data(self): return {"nom": "Filtre", "prix": 10}
        def update_data(self): return {"nom": "Filtre à huile", "prix": 12}

For each operation it offers (list, retrieve, create, update, partial_update, destroy):
no credentials: 401; a user without any permission: 403; a user with exactly the model
permission of that operation (and nothing else): allowed; each role of access/roles.py and
a superuser: allowed or 403 as `role_access` says (`c` create, `r` list and retrieve,
`u` update, `d` delete). Its own actions (status transitions...) are declared in
`custom_actions` with the roles that may use them, and get the same checks.
tests/conftest.py parametrizes the tests from these declarations.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.db.models import Model
from django.urls import reverse

from access.permissions import model_permission
from access.roles import ROLES
from tests.support.accounts import make_account, token_client

# operation: (HTTP method, detail URL?, model permission action, role_access letter, status)
OPERATIONS: dict[str, tuple[str, bool, str, str, int]] = {
    "list": ("get", False, "view", "r", 200),
    "retrieve": ("get", True, "view", "r", 200),
    "create": ("post", False, "add", "c", 201),
    "update": ("put", True, "change", "u", 200),
    "partial_update": ("patch", True, "change", "u", 200),
    "destroy": ("delete", True, "delete", "d", 204),
}
SUPERUSER = "superuser"
EVERYONE = (*ROLES, SUPERUSER)


class APIViewTestCases:
    class Base:
        pytestmark: ClassVar[list] = [pytest.mark.django_db]
        model: ClassVar[type[Model]]
        basename: ClassVar[str]
        operations: ClassVar[tuple[str, ...]] = tuple(OPERATIONS)
        role_access: ClassVar[dict[str, str]] = {}
        # action name -> (HTTP method, detail?, permission(s) it needs, roles allowed)
        custom_actions: ClassVar[dict[str, tuple[str, bool, str, tuple[str, ...]]]] = {}

        # -- what a subclass provides ---------------------------------------------------
        def make(self) -> Model:
            raise NotImplementedError

        def create_data(self) -> dict[str, Any]:
            return {}

        def update_data(self) -> dict[str, Any]:
            return self.create_data()

        def action_data(self, action: str) -> dict[str, Any]:
            return {}

        # -- machinery -------------------------------------------------------------------
        def call(self, client, operation: str) -> Any:
            method, detail, _, _, _ = OPERATIONS[operation]
            return self._send(client, method, detail, operation, None)

        def call_action(self, client, action: str) -> Any:
            method, detail, _, _ = self.custom_actions[action]
            return self._send(client, method, detail, action, action)

        def _send(self, client, method: str, detail: bool, operation: str, action: str | None):
            name = f"{self.basename}-{action.replace('_', '-') if action else ''}"
            if not action:
                name += "detail" if detail else "list"
            args = [self.make().pk] if detail else []
            url = reverse(name, args=args)
            if action:
                data = self.action_data(action)
            elif operation == "create":
                data = self.create_data()
            elif operation in ("update", "partial_update"):
                data = self.update_data()
            else:
                data = None
            return getattr(client, method)(url, data, format="json")

        def expected_status(self, operation: str) -> int:
            return OPERATIONS[operation][4]

        def role_client(self, role: str):
            if role == SUPERUSER:
                return token_client(make_account(admin=True)[1])
            return token_client(make_account(role)[1])

        @staticmethod
        def assert_refused(response, status: int) -> None:
            assert response.status_code == status, (response.status_code, response.content)
            assert response["Content-Type"] == "application/json"
            assert "detail" in response.json()
            if status == 401:
                assert response["WWW-Authenticate"] == "Token"

    class CrudChecks(Base):
        """The checks of the standard operations listed in `operations`."""

        def test_anonymous_is_401(self, operation):
            self.assert_refused(self.call(token_client(None), operation), 401)

        def test_bad_token_is_401(self, operation):
            self.assert_refused(self.call(token_client("0" * 64), operation), 401)

        def test_no_permission_is_403(self, operation):
            self.assert_refused(self.call(token_client(make_account()[1]), operation), 403)

        def test_exactly_the_model_permission_is_enough(self, operation):
            perm = model_permission(self.model, OPERATIONS[operation][2])
            client = token_client(make_account(perms=(perm,))[1])
            response = self.call(client, operation)
            assert response.status_code == self.expected_status(operation), response.content

        def test_role(self, operation, role):
            allowed = role == SUPERUSER or OPERATIONS[operation][3] in self.role_access.get(
                role, ""
            )
            response = self.call(self.role_client(role), operation)
            if allowed:
                assert response.status_code == self.expected_status(operation), response.content
            else:
                self.assert_refused(response, 403)

    class ActionChecks(Base):
        """The checks of the endpoint's own actions, declared in `custom_actions`."""

        def test_action_anonymous_is_401(self, custom_action):
            self.assert_refused(self.call_action(token_client(None), custom_action), 401)

        def test_action_needs_its_permission(self, custom_action):
            _, _, perms, _ = self.custom_actions[custom_action]
            # every other permission of the model is not enough
            others = [model_permission(self.model, a) for a in ("view", "add", "change", "delete")]
            others = tuple(p for p in others if p not in (perms,))
            client = token_client(make_account(perms=others)[1])
            self.assert_refused(self.call_action(client, custom_action), 403)
            client = token_client(make_account(perms=(perms,))[1])
            assert self.call_action(client, custom_action).status_code < 400

        def test_action_role(self, custom_action, role):
            _, _, _, roles = self.custom_actions[custom_action]
            response = self.call_action(self.role_client(role), custom_action)
            if role == SUPERUSER or role in roles:
                assert response.status_code < 400, response.content
            else:
                self.assert_refused(response, 403)

    class ReadOnlyViewSet(CrudChecks):
        operations = ("list", "retrieve")

    class ModelViewSet(CrudChecks):
        operations = tuple(OPERATIONS)
