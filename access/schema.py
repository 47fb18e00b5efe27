"""The OpenAPI security scheme of our token authentication (drf-spectacular extension)."""

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme


class TokenScheme(KnoxTokenScheme):
    target_class = "access.authentication.TokenAuthentication"
    name = "tokenAuth"
