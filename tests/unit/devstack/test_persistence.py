"""The emulator's snapshots (devstack/emulator/persistence.py): DynamoDB, S3 (bytes as blobs) and SQS come back
as they were; task tokens of executions that died with the emulator are dropped; in-flight messages are visible."""

from __future__ import annotations

import hashlib
import json

import boto3
from moto import mock_aws

from devstack.emulator.persistence import Gate, Snapshots, changes_state


def _fill():
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "7"}})
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="kept-bucket")
    s3.put_object(Bucket="kept-bucket", Key="x/1.bin", Body=b"\x00\x01" * 1000)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"taskToken": "t", "jobId": "j"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"jobId": "j", "status": "COMPLETED"}))
    return url


def test_a_snapshot_restores_tables_objects_and_queues(tmp_path):
    snapshots = Snapshots(tmp_path, Gate())
    snapshots.claim()
    with mock_aws():
        url = _fill()
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)  # in flight at the stop
        assert snapshots.capture()
        boto3.client("s3", region_name="us-east-1").delete_object(Bucket="kept-bucket", Key="x/1.bin")
    digest = hashlib.md5(b"\x00\x01" * 1000, usedforsecurity=False).hexdigest()
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == [f"{digest}-2000"]  # bytes once, by content
    with mock_aws():  # a new emulator: nothing until restored
        assert snapshots.restore()
        item = boto3.client("dynamodb", region_name="us-east-1").get_item(TableName="t", Key={"pk": {"S": "a"}})
        assert item["Item"]["n"] == {"N": "7"}
        body = boto3.client("s3", region_name="us-east-1").get_object(Bucket="kept-bucket", Key="x/1.bin")["Body"]
        assert body.read() == b"\x00\x01" * 1000
        received = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        assert [json.loads(m["Body"]) for m in received["Messages"]] == [{"jobId": "j", "status": "COMPLETED"}]


def test_only_requests_that_may_change_state_pass_the_gate():
    def request(method, target="", path="/"):
        return {"REQUEST_METHOD": method, "HTTP_X_AMZ_TARGET": target, "PATH_INFO": path}

    assert changes_state(request("POST", "DynamoDB_20120810.PutItem"))
    assert changes_state(request("PUT", path="/bucket/key"))
    assert not changes_state(request("POST", "DynamoDB_20120810.Query"))
    assert not changes_state(request("POST", "AmazonSQS.ReceiveMessage"))  # long polls never hold a snapshot up
    assert not changes_state(request("GET", path="/bucket/key"))
    assert not changes_state(request("POST", path="/moto-api/config"))


def test_a_snapshot_gives_up_on_writes_that_do_not_finish(tmp_path):
    gate = Gate()
    with gate.request(), gate.closed(0.1) as drained:
        assert not drained
    with gate.closed(0.1) as drained:
        assert drained and not gate.dirty
