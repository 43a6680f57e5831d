"""Canaries: vanilla moto still has each gap a devstack/emulator/patch_*.py closes; a failure names the patch to drop."""

import pytest

from tests.unit.devstack.emulator_gaps import (
    presigned_post_violations,
    racing_unique_puts,
    retried_task_tokens,
    vanilla_moto,
)


@pytest.fixture
def unpatched_dynamodb(monkeypatch):
    """moto's DynamoDB backend without patch_atomic_dynamodb (other tests in this process may have applied it)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name, method in list(vars(DynamoDBBackend).items()):
        if getattr(method, "_serialized", False):
            monkeypatch.setattr(DynamoDBBackend, name, method.__wrapped__)
    assert not [name for name, method in vars(DynamoDBBackend).items() if getattr(method, "_serialized", False)]


def test_moto_still_ignores_presigned_post_policies():
    with vanilla_moto() as endpoint:
        outcomes = presigned_post_violations(endpoint)
    refused = {case: outcome for case, outcome in outcomes.items() if outcome[0] >= 300}
    assert not refused, (
        f"moto fixed this gap: drop devstack/emulator/patch_s3_post_policy.py "
        f"(unpatched moto now refuses {refused}; check it refuses every case the patch covers)"
    )


def test_moto_still_lets_racing_conditional_puts_both_succeed(unpatched_dynamodb):
    with vanilla_moto() as endpoint:
        for _ in range(3):  # retry a round in which one writer arrived too late to meet the others
            successes, reads = racing_unique_puts(endpoint)
            if successes > 1:
                break
    assert reads, (
        "moto's put_item no longer reads the item through Table.get_item: update the probe in emulator_gaps.py"
    )
    assert successes > 1, (
        f"moto fixed this gap: drop devstack/emulator/patch_atomic_dynamodb.py "
        f"(only {successes} of the racing attribute_not_exists puts succeeded on unpatched moto)"
    )


@pytest.fixture
def unpatched_retry_tokens(monkeypatch):
    """moto's callback task state without patch_sfn_retry_token (other tests in this process may have applied it)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    method = StateTaskServiceCallback.__dict__.get("_eval_execution")
    if getattr(method, "_fresh_token", False):
        monkeypatch.setattr(StateTaskServiceCallback, "_eval_execution", method.__wrapped__)


def test_moto_still_reuses_the_task_token_on_retry(unpatched_retry_tokens, monkeypatch):
    with vanilla_moto() as endpoint:
        reused, status = retried_task_tokens(endpoint, monkeypatch)
    assert reused and status == "FAILED", (
        "moto fixed this gap: drop devstack/emulator/patch_sfn_retry_token.py "
        f"(a retry now gets {'the same' if reused else 'a new'} token, and the unanswered retry is {status})"
    )
