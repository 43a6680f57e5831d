"""The emulator's moto patches work: S3 POST policy checks, and the patched emulator closes the gaps the canaries probe."""

import base64
import json
from datetime import UTC, datetime, timedelta

from devstack.emulator import patch_s3_post_policy as s3_post_policy
from tests.unit.devstack.emulator_gaps import (
    WRITERS,
    patched_emulator,
    presigned_post_violations,
    racing_unique_puts,
    retried_task_tokens,
)


def policy(conditions, minutes=5):
    expiration = (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode()).decode()


def test_post_policy_enforces_size_key_type_and_expiry():
    p = policy(
        [
            {"bucket": "b"},
            {"key": "uploads/k"},
            {"Content-Type": "image/png"},
            ["content-length-range", 10, 10],
            ["starts-with", "$x-amz-meta-tag", "ok"],
        ]
    )
    fields = {"key": "uploads/k", "Content-Type": "image/png", "x-amz-meta-tag": "ok-1"}
    assert s3_post_policy.check(p, fields, 10, "b") is None
    assert s3_post_policy.check(p, fields, 11, "b")[0] == "EntityTooLarge"
    assert s3_post_policy.check(p, fields, 9, "b")[0] == "EntityTooSmall"
    assert s3_post_policy.check(p, {**fields, "key": "uploads/other"}, 10, "b")[0] == "AccessDenied"
    assert s3_post_policy.check(p, {**fields, "Content-Type": "text/html"}, 10, "b")[0] == "AccessDenied"
    assert s3_post_policy.check(p, fields, 10, "other-bucket")[0] == "AccessDenied"
    assert s3_post_policy.check(p, {**fields, "x-amz-meta-tag": "bad"}, 10, "b")[0] == "AccessDenied"
    assert s3_post_policy.check(policy([], minutes=-1), fields, 10, "b")[0] == "AccessDenied"
    assert s3_post_policy.check("not base64 json", fields, 10, "b")[0] == "InvalidPolicyDocument"


def test_patched_emulator_refuses_uploads_that_break_their_policy():
    with patched_emulator() as endpoint:
        outcomes = presigned_post_violations(endpoint)
    assert outcomes == {
        "a body larger than content-length-range": (400, "EntityTooLarge"),
        "a Content-Type other than the policy's": (403, "AccessDenied"),
        "an expired policy": (403, "AccessDenied"),
    }


def test_patched_emulator_lets_one_racing_conditional_put_win():
    with patched_emulator() as endpoint:
        successes, reads = racing_unique_puts(endpoint)
    assert reads == WRITERS
    assert successes == 1


def test_patched_emulator_gives_a_retry_its_own_token_and_waits_for_it(monkeypatch):
    with patched_emulator() as endpoint:
        reused, status = retried_task_tokens(endpoint, monkeypatch)
    assert not reused and status == "RUNNING"
