from __future__ import annotations

import hashlib
import hmac

from convtrack.forward import get
from convtrack.forward.destinations.webhook import Webhook, verify
from forward.samples import FIXED, purchase
from forward.test_snapshots import env_for
from forward.validators import SECRET

SIGNED_AT = 1_773_500_000.0


def test_signature_is_hmac_sha256_of_timestamp_dot_body_with_the_secret() -> None:
    destination = Webhook(clock=lambda: SIGNED_AT)
    config = destination.config_from_env(env_for("webhook"))
    (request,) = destination.build([purchase("webhook", FIXED)], config)

    signature = request.headers["X-Convtrack-Signature"]
    timestamp = request.headers["X-Convtrack-Timestamp"]
    assert timestamp == "1773500000"
    signed = b"1773500000." + request.body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify(request.body, signature, SECRET, timestamp, now=SIGNED_AT + 10)
    assert not verify(request.body + b" ", signature, SECRET, timestamp, now=SIGNED_AT)
    assert not verify(request.body, signature, "other-secret", timestamp, now=SIGNED_AT)


def test_a_replayed_or_re_timestamped_request_is_refused() -> None:
    destination = Webhook(clock=lambda: SIGNED_AT)
    config = destination.config_from_env(env_for("webhook"))
    (request,) = destination.build([purchase("webhook", FIXED)], config)
    signature = request.headers["X-Convtrack-Signature"]

    # the same request an hour later: its timestamp is too old
    assert not verify(request.body, signature, SECRET, "1773500000", now=SIGNED_AT + 3600)
    # a fresh timestamp pasted onto the old signature does not match it
    assert not verify(request.body, signature, SECRET, "1773503600", now=SIGNED_AT + 3600)
    assert not verify(request.body, signature, SECRET, "not-a-number", now=SIGNED_AT)


def test_webhook_forwards_adjustments_as_they_are() -> None:
    destination = get("webhook")
    config = destination.config_from_env(env_for("webhook"))
    event = purchase(
        "webhook", FIXED, kind="adjustment", adjustment_type="refund", original_order_id="O-1"
    )
    (request,) = destination.build([event], config)
    sent = request.json()["events"][0]
    assert (sent["kind"], sent["adjustment_type"], sent["original_order_id"]) == (
        "adjustment",
        "refund",
        "O-1",
    )
