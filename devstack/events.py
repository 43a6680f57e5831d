"""The local event-source runner: does for the app's event handlers what AWS does for Lambda.

It reads the event sources the Chalice app declares (`@app.on_sqs_message`, `@app.schedule`) and
drives them: an SQS event source mapping per queue (long-poll, gather records up to the batch size within
the source's batching window, invoke the handler in-process with a Lambda-shaped event; as with `ReportBatchItemFailures`, delete every message except those the handler
lists in `batchItemFailures`, and none when it raises, so failures are redelivered and end in the
queue's dead-letter queue), and a timer per `rate(...)` schedule. S3 notifications
reach the handlers through SQS, exactly as declared in infrastructure/template.yaml.
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
import time
import uuid
from datetime import UTC, datetime

import boto3

from devstack import watch_parent

ACCOUNT_ID = "123456789012"
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, name: str, timeout_s: int = 900):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:ai3d-{name}"
        self.log_group_name = f"/aws/lambda/ai3d-{name}"
        self.log_stream_name = "local"
        self._deadline = time.time() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (simulated) Lambda timeout."""
        return max(0, int((self._deadline - time.time()) * 1000))


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    """An SQS -> Lambda event for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def scheduled_event(name: str, region: str) -> dict:
    """An EventBridge scheduled event."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/ai3d-{name}"],
        "detail": {},
    }


def rate_seconds(expression: str) -> float:
    """Seconds between runs of a `rate(N unit)` schedule expression."""
    match = re.fullmatch(r"rate\((\d+) (\w+)\)", expression.strip())
    if not match or match.group(2) not in RATE_UNITS:
        raise ValueError(f"only rate(N minutes|hours|days) schedules run locally, got {expression!r}")
    return int(match.group(1)) * RATE_UNITS[match.group(2)]


class EventRunner:
    """Polls every SQS event source and fires every schedule of a Chalice app until stopped."""

    def __init__(self, app, region: str = "us-east-1", schedule_scale: float = 1.0, log=print):
        self.app = app
        self.region = region
        self.schedule_scale = schedule_scale
        self.log = log
        self.stop = threading.Event()
        self.sqs = boto3.client("sqs", region_name=region)

    def sources(self) -> list[tuple[str, object]]:
        """(kind, config) for each event source the app declares."""
        from chalice.app import ScheduledEventConfig, SQSEventConfig

        found = []
        for source in self.app.event_sources:
            if isinstance(source, SQSEventConfig):
                found.append(("sqs", source))
            elif isinstance(source, ScheduledEventConfig):
                found.append(("schedule", source))
        return found

    def _invoke(self, name: str, event: dict) -> set[str] | None:
        """Run a handler; None when it raised, else the message ids it reported as failed."""
        handler = self.app.handler_map[name]
        started = time.time()
        try:
            result = handler(event, LambdaContext(name))
        except Exception as exc:  # a failed invocation leaves SQS messages for redelivery, as Lambda does
            self.log(f"{name}: invocation failed: {type(exc).__name__}: {exc}")
            return None
        failed = (
            {str(item.get("itemIdentifier")) for item in (result or {}).get("batchItemFailures", [])}
            if isinstance(result, dict)
            else set()
        )
        records = len(event.get("Records", [])) if "Records" in event else None
        self.log(
            f"{name}: invoked"
            + (f" with {records} record(s)" if records is not None else "")
            + f" in {1000 * (time.time() - started):.0f} ms"
            + (f", {len(failed)} record(s) failed" if failed else "")
        )
        return failed

    def poll_queue(self, config) -> None:
        """One SQS event source mapping: receive, invoke, delete on success."""
        queue = config.queue or config.queue_arn.rsplit(":", 1)[-1]
        url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        while not self.stop.is_set():
            try:
                received = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, config.batch_size),
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                )
            except Exception as exc:
                self.log(f"{config.name}: receive failed: {exc}")
                self.stop.wait(1)
                continue
            messages = received.get("Messages", [])
            if not messages:
                continue
            messages += self._fill_batch(url, config, len(messages))
            failed = self._invoke(config.name, sqs_event(messages, arn, self.region))
            done = [m for m in messages if failed is not None and m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )

    def _fill_batch(self, url: str, config, have: int) -> list[dict]:
        """As Lambda's MaximumBatchingWindowInSeconds: gather more records until the batch is full or the window ends."""
        window = getattr(config, "maximum_batching_window_in_seconds", 0) or 0
        deadline, more = time.time() + window, []
        while have + len(more) < config.batch_size and time.time() < deadline and not self.stop.is_set():
            try:
                received = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, config.batch_size - have - len(more)),
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                )
            except Exception as exc:
                self.log(f"{config.name}: receive failed: {exc}")
                break
            more += received.get("Messages", [])
            self.stop.wait(0.05)
        return more

    def run_schedule(self, config) -> None:
        """One schedule: fire now, then every period (scaled by schedule_scale)."""
        period = rate_seconds(config.schedule_expression.to_string()) * self.schedule_scale
        while not self.stop.is_set():
            self._invoke(config.name, scheduled_event(config.name, self.region))
            self.stop.wait(period)

    def start(self) -> list[threading.Thread]:
        """Start one thread per event source."""
        threads = []
        for kind, config in self.sources():
            target = self.poll_queue if kind == "sqs" else self.run_schedule
            thread = threading.Thread(target=target, args=(config,), name=config.name, daemon=True)
            thread.start()
            threads.append(thread)
            self.log(f"event source {kind}: {config.name}")
        return threads


def main() -> None:
    """Run the app's event sources until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--schedule-scale",
        type=float,
        default=1.0,
        help="multiply schedule periods (e.g. 0.05 makes rate(1 minute) fire every 3 s)",
    )
    args = parser.parse_args()
    from app import app

    runner = EventRunner(app, schedule_scale=args.schedule_scale, log=lambda m: print(m, flush=True))
    signal.signal(signal.SIGTERM, lambda *_: runner.stop.set())
    signal.signal(signal.SIGINT, lambda *_: runner.stop.set())
    watch_parent()
    threads = runner.start()
    runner.stop.wait()
    for thread in threads:
        thread.join(timeout=5)


if __name__ == "__main__":
    main()
