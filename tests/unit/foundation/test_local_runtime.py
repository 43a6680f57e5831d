"""The local runtime pieces: the event runner's Lambda events and schedules (the emulator's patches: tests/unit/devstack)."""

import pytest

from devstack import events


def test_rate_schedules_parse_and_others_are_refused():
    assert events.rate_seconds("rate(1 minute)") == 60
    assert events.rate_seconds("rate(2 hours)") == 7200
    with pytest.raises(ValueError):
        events.rate_seconds("cron(0 12 * * ? *)")


def test_sqs_event_has_lambda_shape():
    event = events.sqs_event(
        [{"MessageId": "m", "ReceiptHandle": "r", "Body": "{}", "Attributes": {"ApproximateReceiveCount": "1"}}],
        "arn:aws:sqs:us-east-1:1:q",
        "us-east-1",
    )
    record = event["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["body"] == "{}" and record["eventSourceARN"].endswith(":q")


def test_runner_drives_the_apps_declared_sources(aws):
    from app import app

    runner = events.EventRunner(app)
    kinds = sorted((kind, config.name) for kind, config in runner.sources())
    assert ("sqs", "on_upload") in kinds and ("sqs", "on_job_event") in kinds
    assert ("schedule", "sweep_jobs") in kinds and ("schedule", "monthly_grants") in kinds


def test_failed_invocation_leaves_messages_for_redelivery(aws):
    import boto3

    from app import app

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = aws["JOB_EVENTS_QUEUE_URL"]
    sqs.send_message(QueueUrl=url, MessageBody="not json")  # the handler raises on it
    runner = events.EventRunner(app, log=lambda m: None)
    config = next(c for k, c in runner.sources() if c.name == "on_job_event")
    messages = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert runner._invoke(config.name, events.sqs_event(messages, "arn", "us-east-1")) is None  # it raised
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        == 1
    )
