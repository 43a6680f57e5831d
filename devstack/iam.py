"""IAM enforcement for the local stack (`python -m devstack --iam`): each process acts as exactly the role the
declaration gives its AWS counterpart, and the emulator refuses whatever that role does not allow.

The roles are read from the declaration (infrastructure/template.yaml), never copied: the API process runs as the
API function's role (the authorizer runs inside it; the declaration test checks the authorizer's role grants
nothing more), each event source runs in its own process as its function's role, and each worker kind as its task
role. The stack assumes the roles before switching enforcement on - they trust AWS services, not this machine - and
hands each process its temporary credentials. The emulator (devstack/emulator/patch_iam.py) then judges every
request as AWS would and logs each refusal as `IAM denied: ...`.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import boto3
import requests

from devstack import watch_parent
from devstack.deploy import ACCOUNT_ID, TEMPLATE, Deployer, load_template


def process_roles(template: dict) -> dict[str, str]:
    """Local process name -> ARN of the role its AWS counterpart runs as (api, events-<handler>, worker kinds)."""
    from chalice.utils import to_cfn_resource_name

    from app import app

    resources = template["Resources"]
    deployer = Deployer(template)

    def role_arn(value: dict) -> str:
        role = value["Fn::GetAtt"][0]
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{deployer.resolve(resources[role]['Properties']['RoleName'])}"

    roles = {
        "api": role_arn(resources["APIHandler"]["Properties"]["Role"]),
        "ws": role_arn(resources["WebsocketMessage"]["Properties"]["Role"]),  # the three WebSocket handlers' role
    }
    for source in app.event_sources:
        roles[f"events-{source.name}"] = role_arn(resources[to_cfn_resource_name(source.name)]["Properties"]["Role"])
    for spec in resources.values():
        if spec["Type"] == "AWS::ECS::TaskDefinition":
            for container in spec["Properties"]["ContainerDefinitions"]:
                roles[container["Name"]] = role_arn(spec["Properties"]["TaskRoleArn"])
    return roles


def enforce(endpoint: str, template_path: Path = TEMPLATE) -> dict[str, dict[str, str]]:
    """Assume every process's role, switch the emulator's enforcement on, and return each process's credentials
    (environment variables). Call it after the deploy: from then on unsigned or unknown callers are refused."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    credentials = {}
    for process, role in process_roles(load_template(template_path)).items():
        granted = sts.assume_role(
            RoleArn=role, RoleSessionName=f"ai3d-local-{process}".replace("_", "-"), DurationSeconds=43200
        )["Credentials"]
        credentials[process] = {
            "AWS_ACCESS_KEY_ID": granted["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": granted["SecretAccessKey"],
            "AWS_SESSION_TOKEN": granted["SessionToken"],
        }
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    return credentials


class _KnownQueueUrls:
    """An SQS client that answers GetQueueUrl for the deployed queues itself: Lambda's poller knows its queue, so
    the function's role needs no sqs:GetQueueUrl, while the local event runner asks for the URL by name."""

    def __init__(self, sqs, urls: dict[str, str]):
        self._sqs, self._urls = sqs, urls

    def get_queue_url(self, QueueName: str) -> dict:
        """The URL of a deployed queue."""
        return {"QueueUrl": self._urls[QueueName]}

    def __getattr__(self, name: str):
        return getattr(self._sqs, name)


def run_event_source(name: str, schedule_scale: float) -> None:
    """Run one of the app's event sources (as its own Lambda function would run), until SIGTERM/SIGINT."""
    from app import app
    from chalicelib import settings
    from devstack.events import EventRunner

    class OneSource(EventRunner):
        """The event runner restricted to one source."""

        def sources(self):
            """Only the named source."""
            return [(kind, config) for kind, config in super().sources() if config.name == name]

    runner = OneSource(app, schedule_scale=schedule_scale, log=lambda m: print(m, flush=True))
    urls = {
        settings.UPLOAD_EVENTS_QUEUE_NAME: settings.UPLOAD_EVENTS_QUEUE_URL,
        settings.JOB_EVENTS_QUEUE_NAME: settings.JOB_EVENTS_QUEUE_URL,
    }
    runner.sqs = _KnownQueueUrls(runner.sqs, urls)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop.set())
    signal.signal(signal.SIGINT, lambda *_: runner.stop.set())
    watch_parent()
    threads = runner.start()
    if not threads:
        raise SystemExit(f"the app has no event source named {name}")
    runner.stop.wait()
    for thread in threads:
        thread.join(timeout=5)


def main() -> None:
    """`python -m devstack.iam --event-source NAME`: one event source in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-source", required=True, help="the app's handler name, e.g. on_upload")
    parser.add_argument("--schedule-scale", type=float, default=1.0)
    args = parser.parse_args()
    run_event_source(args.event_source, args.schedule_scale)


if __name__ == "__main__":
    main()
