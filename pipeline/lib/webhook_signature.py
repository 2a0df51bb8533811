"""The GPU cluster's webhook signature (DESIGN §5): ``X-Signature-256: sha256=<hex>``, the
HMAC-SHA256 of the raw body under the shared ``GPU_CLUSTER_WEBHOOK_SECRET``.

One rule for both sides of the contract: the receiving view (``artifacts.api.webhooks``) and the
demo's simulated cluster (``run_demo``) that sends it.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature-256"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, given: str) -> bool:
    """Constant-time comparison of the header the request carried with the body's signature."""
    return bool(given) and hmac.compare_digest(given.encode(), sign(body, secret).encode())
