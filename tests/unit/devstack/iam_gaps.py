"""Probes for the gaps between moto's IAM enforcement and AWS's that devstack/emulator/patch_iam.py closes.

`prepare` builds a small world (two tables, a queue, a bucket, two secrets, a state machine) and a role allowed only
part of it, then switches enforcement on; `probe` answers, for each request the platform makes, whether the role got
it. The canaries run the probes on vanilla moto (the gap must still be there), the patch tests on the emulator.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/allowed"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(patched: bool):
    """The devstack emulator (patched) or moto's own server (vanilla) in a subprocess; yields its endpoint."""
    port = _free_port()
    module = ["devstack.emulator.server", "--port"] if patched else ["moto.server", "-p"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), MOTO_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", *module, str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        requests.post(
            f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
        ).raise_for_status()
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(service: str, endpoint: str, credentials: dict | None = None):
    """A client on the test server: the bootstrap keys, or the role's temporary ones."""
    keys = credentials or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    config = Config(retries={"max_attempts": 1}, signature_version="s3v4" if service == "s3" else None)
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=config, **keys)


def prepare(endpoint: str) -> dict:
    """Build the world and the role, switch enforcement on; the role's credentials and the world's names."""
    ddb, sqs, s3, iam, sts, secrets, sfn = (
        client(s, endpoint) for s in ("dynamodb", "sqs", "s3", "iam", "sts", "secretsmanager", "stepfunctions")
    )
    for table in ("allowed", "other"):
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    queue = sqs.create_queue(QueueName="tasks")["QueueUrl"]
    s3.create_bucket(Bucket="assets-bucket")
    s3.put_object(Bucket="assets-bucket", Key="uploads/a.bin", Body=b"uploaded")
    s3.put_object(Bucket="assets-bucket", Key="outputs/a.bin", Body=b"made")
    secret = secrets.create_secret(Name="allowed-secret", SecretString="s" * 40)["ARN"]
    secrets.create_secret(Name="other-secret", SecretString="o" * 40)
    statements = [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": TABLE_ARN},
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
            "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:tasks",
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::assets-bucket/uploads/*",
        },
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::assets-bucket"},
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secret},
        {
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:mark",
        },
        {
            "Effect": "Allow",
            "Action": ["states:DescribeExecution"],
            "Resource": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:mark:*",
        },
    ]
    starter = [{"Effect": "Allow", "Action": ["states:StartExecution", "states:DescribeExecution"], "Resource": "*"}]
    for role, allowed in (("app", statements), ("machine", [statements[0]]), ("starter", starter)):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.put_role_policy(
            RoleName=role, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": allowed})
        )
    definition = {
        "StartAt": "Mark",
        "States": {
            "Mark": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "End": True,
                "Parameters": {"TableName": "allowed", "Item": {"pk": {"S": "marked"}}},
            }
        },
    }
    machine = sfn.create_state_machine(
        name="mark", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/machine"
    )["stateMachineArn"]
    credentials = {}
    for role in ("app", "starter"):
        granted = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=role)["Credentials"]
        credentials[role] = {
            "aws_access_key_id": granted["AccessKeyId"],
            "aws_secret_access_key": granted["SecretAccessKey"],
            "aws_session_token": granted["SessionToken"],
        }
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    return {"credentials": credentials, "queue": queue, "secret": secret, "machine": machine}


def _allowed(call) -> bool:
    try:
        call()
        return True
    except ClientError as exc:
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403 or "AccessDenied" in str(exc):
            return False
        raise


def probe(endpoint: str, world: dict) -> dict:
    """For each request the platform makes: did the role get it (True/False), or the HTTP status for signed URLs."""
    ddb, sqs, s3, secrets, sfn = (
        client(s, endpoint, world["credentials"]["app"])
        for s in ("dynamodb", "sqs", "s3", "secretsmanager", "stepfunctions")
    )
    key = {"pk": {"S": "k"}}
    update = {
        "TableName": "allowed",
        "Key": key,
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"S": "1"}},
    }
    results = {
        "table_get": _allowed(lambda: ddb.get_item(TableName="allowed", Key=key)),
        "other_table_get": _allowed(lambda: ddb.get_item(TableName="other", Key=key)),
        "transact_put": _allowed(
            lambda: ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "allowed", "Item": key}}])
        ),
        "transact_put_and_update": _allowed(
            lambda: ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": "allowed", "Item": {"pk": {"S": "j"}}}}, {"Update": update}]
            )
        ),
        "secret": _allowed(lambda: secrets.get_secret_value(SecretId="allowed-secret")),
        "other_secret": _allowed(lambda: secrets.get_secret_value(SecretId="other-secret")),
        "head_bucket": _allowed(lambda: s3.head_bucket(Bucket="assets-bucket")),
    }
    sqs.send_message(QueueUrl=world["queue"], MessageBody="m")
    received = sqs.receive_message(QueueUrl=world["queue"]).get("Messages", [])
    results["delete_batch"] = _allowed(
        lambda: sqs.delete_message_batch(
            QueueUrl=world["queue"], Entries=[{"Id": "0", "ReceiptHandle": m["ReceiptHandle"]} for m in received]
        )
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "assets-bucket", "Key": "uploads/a.bin"})
    results["presigned_get"] = requests.get(url, timeout=10).status_code
    results["tampered_get"] = requests.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10).status_code
    other = s3.generate_presigned_url("get_object", Params={"Bucket": "assets-bucket", "Key": "outputs/a.bin"})
    results["presigned_get_elsewhere"] = requests.get(other, timeout=10).status_code
    for name, key_name in (("presigned_post", "uploads/b.bin"), ("presigned_post_elsewhere", "outputs/b.bin")):
        post = s3.generate_presigned_post("assets-bucket", key_name)
        results[name] = requests.post(
            post["url"], data=post["fields"], files={"file": ("b", b"x")}, timeout=10
        ).status_code
    results["start_execution"] = _allowed(lambda: sfn.start_execution(stateMachineArn=world["machine"]))
    starter = client("stepfunctions", endpoint, world["credentials"]["starter"])  # may start any: isolates the task
    execution = starter.start_execution(stateMachineArn=world["machine"])["executionArn"]
    for _ in range(100):
        status = starter.describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            break
        time.sleep(0.1)
    results["execution"] = status
    return results
