"""Probes for the gaps between moto and AWS that devstack/emulator/patch_*.py close, run against a live server.

The canaries run them on vanilla moto (the gap must still be there); the patch tests run them on the
emulator's patched app (the gap must be closed). Both use the same probe, so a canary demonstrably
fails once the gap is gone.
"""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

WRITERS = 4  # concurrent conditional writers per round


def client(service: str, endpoint: str, **config):
    """A boto3 client on a test server (never on AWS)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@contextmanager
def vanilla_moto():
    """moto's own server (ThreadedMotoServer: no devstack patch) on a free port; yields its endpoint."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()


@contextmanager
def patched_emulator():
    """The emulator's app (devstack.emulator.server.make_app: moto plus every patch) on a free port; yields its endpoint."""
    from werkzeug.serving import make_server

    from devstack.emulator.server import make_app

    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        yield endpoint
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.shutdown()
        thread.join()


def presigned_post_violations(endpoint: str) -> dict[str, tuple[int, str]]:
    """Browser-style uploads that break their presigned POST policy -> (HTTP status, S3 error code) for each.

    The policy: key uploads/k.png, Content-Type image/png, 1 to 10 bytes. An upload that keeps it is
    checked first and must be accepted, or the probe itself is broken.
    """
    s3 = client("s3", endpoint)
    bucket = f"canary-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)

    def upload(size: int = 10, content_type: str = "image/png", expires_in: int = 60) -> tuple[int, str]:
        form = s3.generate_presigned_post(
            bucket,
            "uploads/k.png",
            Fields={"Content-Type": "image/png"},
            Conditions=[{"Content-Type": "image/png"}, ["content-length-range", 1, 10]],
            ExpiresIn=expires_in,
        )
        response = requests.post(
            form["url"],
            data={**form["fields"], "Content-Type": content_type},
            files={"file": ("k.png", b"x" * size, content_type)},
            timeout=30,
        )
        code = re.search(r"<Code>(.*?)</Code>", response.text)
        return response.status_code, code.group(1) if code else ""

    valid = upload()
    assert valid[0] < 300, f"the probe's valid upload was refused {valid}: the probe is broken, not the gap closed"
    return {
        "a body larger than content-length-range": upload(size=11),
        "a Content-Type other than the policy's": upload(content_type="text/html"),
        "an expired policy": upload(expires_in=-60),
    }


def racing_unique_puts(endpoint: str, writers: int = WRITERS, barrier_seconds: float = 2.0) -> tuple[int, int]:
    """`writers` threads put the same new key with `attribute_not_exists(pk)` (a unique email): (successes, reads).

    DynamoDB lets exactly one win. To make the race deterministic instead of lucky, each put waits,
    right after moto has read the current item (Table.get_item, before the condition is checked), until
    every writer has read it (or barrier_seconds pass: a server that serialises writes holds the others
    back, so the first writer times out and goes on alone). `reads` counts the puts that reached that
    point: 0 means moto no longer reads through Table.get_item and this probe needs updating.
    """
    from moto.dynamodb.models.table import Table

    ddb = client("dynamodb", endpoint, max_pool_connections=writers + 2, read_timeout=60)
    table = f"canary-{uuid.uuid4().hex[:12]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    barrier = threading.Barrier(writers, timeout=barrier_seconds)
    reads = []
    original = Table.get_item

    def get_item(self, *args, **kwargs):
        item = original(self, *args, **kwargs)
        if self.name == table:
            reads.append(item)
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return item

    def put(writer: int) -> bool:
        try:
            ddb.put_item(
                TableName=table,
                Item={"pk": {"S": "EMAIL#a@example.com"}, "writer": {"N": str(writer)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    Table.get_item = get_item
    try:
        with ThreadPoolExecutor(max_workers=writers) as pool:
            successes = sum(pool.map(put, range(writers)))
    finally:
        Table.get_item = original
    return successes, len(reads)


def retried_task_tokens(endpoint: str, monkeypatch) -> tuple[bool, str]:
    """A `.waitForTaskToken` task fails once with a retryable error: (did the retry reuse the token, execution status
    once it leaves RUNNING, or 10 s into the retry with nobody answering). On AWS: a new token, and still RUNNING."""
    import json
    import time

    monkeypatch.setenv("MOTO_PORT", endpoint.rsplit(":", 1)[1])  # moto's integrations call back on this port
    requests.post(f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    sqs, sfn = client("sqs", endpoint), client("stepfunctions", endpoint)
    queue = sqs.create_queue(QueueName=f"tasks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    body = {"token.$": "$$.Task.Token", "attempt.$": "$$.State.RetryCount"}
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "End": True,
        "Parameters": {"QueueUrl": queue, "MessageBody": body},
        "Retry": [{"ErrorEquals": ["TRANSIENT"], "IntervalSeconds": 1, "MaxAttempts": 2}],
    }
    machine = sfn.create_state_machine(
        name=f"retry-{uuid.uuid4().hex[:8]}",
        roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "Work", "States": {"Work": task}}),
    )
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]

    def next_task() -> dict:
        deadline = time.time() + 20
        while time.time() < deadline:
            for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                return json.loads(message["Body"])
        raise AssertionError("the state machine sent no task")

    try:
        first = next_task()
        sfn.send_task_failure(taskToken=first["token"], error="TRANSIENT", cause="busy")
        retry = next_task()
        deadline = time.time() + 10  # moto fails the reused token within a second or two; a loaded machine is slower
        status = sfn.describe_execution(executionArn=execution)["status"]
        while status == "RUNNING" and time.time() < deadline:
            time.sleep(0.5)
            status = sfn.describe_execution(executionArn=execution)["status"]
        if status == "RUNNING":
            sfn.stop_execution(executionArn=execution)
    finally:  # moto's config is process-wide: leave in-process moto (the other unit tests) as it was
        requests.post(
            f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": False}}, timeout=10
        )
    return retry["token"] == first["token"], status
