"""IAM enforcement as AWS does it: the emulator (patch_iam) judges each request of a role by its policy, and the
canaries show vanilla moto still has each gap the patch closes (a failing canary names the function to drop)."""

import pytest

from tests.unit.devstack.iam_gaps import prepare, probe, server


@pytest.fixture(scope="module")
def vanilla():
    """The probes' answers on moto's own server."""
    with server(patched=False) as endpoint:
        return probe(endpoint, prepare(endpoint))


@pytest.fixture(scope="module")
def emulator():
    """The probes' answers on the devstack emulator."""
    with server(patched=True) as endpoint:
        return probe(endpoint, prepare(endpoint))


def test_the_emulator_grants_what_the_policy_allows_and_nothing_else(emulator):
    assert emulator == {
        "table_get": True,
        "other_table_get": False,
        "transact_put": True,
        "transact_put_and_update": False,  # each item is checked: UpdateItem is not allowed
        "secret": True,
        "other_secret": False,
        "head_bucket": True,  # as s3:ListBucket
        "delete_batch": True,  # as sqs:DeleteMessage
        "presigned_get": 200,
        "tampered_get": 403,
        "presigned_get_elsewhere": 403,
        "presigned_post": 204,
        "presigned_post_elsewhere": 403,
        "start_execution": True,
        "execution": "SUCCEEDED",  # its putItem acts as the state machine's role, which may
    }


def test_moto_still_checks_resource_scoped_services_against_star(vanilla):
    assert not vanilla["table_get"] and not vanilla["secret"] and not vanilla["start_execution"], (
        "moto fixed this gap: drop name_the_resources' DynamoDB / Secrets Manager / Step Functions resources"
    )


def test_moto_still_checks_sqs_batches_and_head_bucket_by_their_call_names(vanilla):
    assert not vanilla["delete_batch"], "moto fixed this gap: drop _SQS_PERMISSIONS from patch_iam.py"
    assert not vanilla["head_bucket"], "moto fixed this gap: drop _S3_PERMISSIONS from patch_iam.py"


def test_moto_still_fails_presigned_requests_under_enforcement(vanilla):
    assert vanilla["presigned_get"] != 200 and vanilla["presigned_post"] != 204, (
        "moto fixed this gap: drop authenticate_presigned_s3 from patch_iam.py"
    )


def test_moto_still_signs_step_functions_calls_with_fake_keys(vanilla):
    assert vanilla["execution"] != "SUCCEEDED", (
        "moto fixed this gap: drop sign_state_machine_calls_as_its_role from patch_iam.py"
    )
