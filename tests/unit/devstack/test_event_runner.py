"""The local event runner treats SQS batches as Lambda does with ReportBatchItemFailures."""

import threading
import time

import boto3
from chalice import Chalice
from moto import mock_aws

from devstack.events import EventRunner


def _run_briefly(runner: EventRunner, config, seconds: float = 2.5) -> None:
    thread = threading.Thread(target=runner.poll_queue, args=(config,), daemon=True)
    thread.start()
    time.sleep(seconds)
    runner.stop.set()
    thread.join(timeout=5)


def _left_in(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@mock_aws
def test_only_the_records_a_handler_reports_as_failed_are_kept_for_redelivery():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="batch", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for body in ("good-1", "bad", "good-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    app, seen = Chalice(app_name="t"), []

    @app.on_sqs_message(queue="batch", batch_size=10)
    def handler(event):
        failed = []
        for record in event:
            seen.append(record.body)
            if record.body == "bad":
                failed.append({"itemIdentifier": record.to_dict()["messageId"]})
        return {"batchItemFailures": failed}

    runner = EventRunner(app, log=lambda _: None)
    _run_briefly(runner, runner.sources()[0][1])
    assert sorted(seen) == ["bad", "good-1", "good-2"]
    assert _left_in(sqs, url) == 1  # only "bad" is kept; the good ones are deleted


@mock_aws
def test_a_handler_that_raises_keeps_the_whole_batch():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="crash", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    app = Chalice(app_name="t")

    @app.on_sqs_message(queue="crash", batch_size=10)
    def handler(event):
        raise RuntimeError("boom")

    runner = EventRunner(app, log=lambda _: None)
    _run_briefly(runner, runner.sources()[0][1])
    assert _left_in(sqs, url) == 2


@mock_aws
def test_records_arriving_within_the_batching_window_share_one_invocation():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="window")["QueueUrl"]
    app, batches = Chalice(app_name="t"), []

    @app.on_sqs_message(queue="window", batch_size=5, maximum_batching_window_in_seconds=1)
    def handler(event):
        batches.append(sorted(record.body for record in event))

    runner = EventRunner(app, log=lambda _: None)
    thread = threading.Thread(target=runner.poll_queue, args=(runner.sources()[0][1],), daemon=True)
    thread.start()
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
        time.sleep(0.2)
    time.sleep(2)
    runner.stop.set()
    thread.join(timeout=5)
    assert batches == [["a", "b", "c"]]
