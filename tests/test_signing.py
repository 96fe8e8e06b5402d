"""Standard Webhooks signatures: the spec's published vector, rotation, and the independent library."""

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.signing import new_secret, secret_key, sign, signature_header

# The official vector, identical in every reference library (Python, Go, JS, PHP, Ruby, C#, Java).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# Same message signed with the Svix README's example secret (research note, section 10.2).
OTHER_SECRET = "whsec_51TKyHBy5KFY1Ab98GQ8V60BkWnejkWy"
OTHER_SIGNATURE = "v1,BY4M5Aue194a5/pfjzvwBcIcDUggAJrgQN8SVM3Fsvo="


def test_spec_test_vector() -> None:
    """Our signer reproduces the spec's published signature byte for byte."""
    assert sign(secret_key(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert sign(secret_key(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY + b" ") != SPEC_SIGNATURE


def test_the_reference_library_agrees_on_the_vector() -> None:
    """standardwebhooks signs the vector the same way (a naive UTC datetime and a str body, as it needs)."""
    moment = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC).replace(tzinfo=None)
    assert Webhook(SPEC_SECRET).sign(SPEC_ID, moment, SPEC_BODY.decode()) == SPEC_SIGNATURE


def test_rotation_header_lists_both_signatures() -> None:
    """During rotation the header carries one v1 entry per secret, space-separated, in that order."""
    header = signature_header(
        [secret_key(OTHER_SECRET), secret_key(SPEC_SECRET)], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY
    )
    assert header == f"{OTHER_SIGNATURE} {SPEC_SIGNATURE}"


@pytest.mark.parametrize("secret", [SPEC_SECRET, OTHER_SECRET])
def test_rotation_header_verifies_with_either_secret(secret: str) -> None:
    """A receiver holding either secret accepts a callback signed during rotation."""
    now = int(datetime.now(UTC).timestamp())
    header = signature_header([secret_key(OTHER_SECRET), secret_key(SPEC_SECRET)], SPEC_ID, now, SPEC_BODY)
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(now), "webhook-signature": header}
    assert Webhook(secret).verify(SPEC_BODY, headers) == {"test": 2432232314}


def test_a_changed_signature_is_rejected() -> None:
    """A signature with one character changed does not verify (as the spec suite's negative vector)."""
    now = int(datetime.now(UTC).timestamp())
    good = sign(secret_key(SPEC_SECRET), SPEC_ID, now, SPEC_BODY)
    # The first base64 character is all signature bits (the last one also holds padding bits).
    bad = "v1," + ("A" if good[3] != "A" else "B") + good[4:]
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(now), "webhook-signature": bad}
    with pytest.raises(WebhookVerificationError):
        Webhook(SPEC_SECRET).verify(SPEC_BODY, headers)


def test_new_secrets_are_32_random_bytes() -> None:
    """``whsec_`` + base64 of 32 bytes (inside the spec's 24-64), different every time."""
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second
    with pytest.raises(ValueError, match="whsec_"):
        secret_key("whsec_not base64!")
