"""Standard Webhooks signatures (https://www.standardwebhooks.com/), with the reference
library `standardwebhooks`: `webhook-signature: v1,<base64 HMAC-SHA256 of
"<webhook-id>.<webhook-timestamp>.<body>">` keyed with the secret's base64-decoded bytes."""

from __future__ import annotations

from datetime import datetime

from standardwebhooks.webhooks import Webhook


def entetes(secret: str, message_id: str, horodatage: datetime, corps: bytes) -> dict[str, str]:
    """The three headers of a delivery."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(horodatage.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, horodatage, corps),
    }
