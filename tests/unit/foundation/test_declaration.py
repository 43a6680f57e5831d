"""The one declaration: every resource the code names is in infrastructure/template.yaml, and it deploys."""

import json
import re
import subprocess
import sys
from pathlib import Path

import boto3

from chalicelib import settings
from devstack.deploy import TEMPLATE, deploy, load_template

ROOT = Path(__file__).resolve().parents[3]


def test_every_setting_that_names_a_resource_is_a_template_output():
    outputs = load_template()["Outputs"]
    assert set(settings.RESOURCE_SETTINGS) <= set(outputs)


def test_workers_read_only_declared_resources():
    outputs = set(load_template()["Outputs"])
    code = "".join(p.read_text() for p in (ROOT / "container_workers").rglob("*.py"))
    named = set(re.findall(r'os\.environ(?:\.get)?\[?\(?"([A-Z_]+(?:_URL|_NAME|_BUCKET|_ARN))"', code))
    assert named and named <= outputs, named - outputs


def test_event_handler_queues_are_declared(aws):
    from app import app

    declared = {
        spec["Properties"]["QueueName"].value.replace("${Stage}", "local")
        for spec in load_template()["Resources"].values()
        if spec["Type"] == "AWS::SQS::Queue"
    }
    queues = {source.queue for source in app.event_sources if hasattr(source, "queue") and source.queue}
    assert queues and queues <= declared


def test_deploy_creates_everything_with_notification_ttl_and_redrive(aws):
    s3, sqs, ddb, sfn = (boto3.client(s, region_name="us-east-1") for s in ("s3", "sqs", "dynamodb", "stepfunctions"))
    rules = s3.get_bucket_notification_configuration(Bucket=aws["ASSETS_BUCKET"])["QueueConfigurations"]
    assert (
        rules[0]["QueueArn"].endswith("upload-events")
        and rules[0]["Filter"]["Key"]["FilterRules"][0]["Value"] == "uploads/"
    )
    assert ddb.describe_time_to_live(TableName=aws["TABLE_NAME"])["TimeToLiveDescription"]["AttributeName"] == "ttl"
    indexes = {
        i["IndexName"] for i in ddb.describe_table(TableName=aws["TABLE_NAME"])["Table"]["GlobalSecondaryIndexes"]
    }
    assert indexes == {"gsi1", "gsi2", "gsi3"}
    for name in ("UPLOAD_EVENTS_QUEUE_URL", "GPU_QUEUE_URL", "BLENDER_QUEUE_URL", "JOB_EVENTS_QUEUE_URL"):
        redrive = json.loads(
            sqs.get_queue_attributes(QueueUrl=aws[name], AttributeNames=["RedrivePolicy"])["Attributes"][
                "RedrivePolicy"
            ]
        )
        assert redrive["deadLetterTargetArn"].endswith("-dlq")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=aws["PIPELINE_STATE_MACHINE_ARN"])["definition"])
    worker = definition["States"]["RunStages"]["Iterator"]["States"]["RunOnWorker"]
    assert (
        worker["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken" and worker["HeartbeatSeconds"] == 60
    )
    assert deploy() == aws  # idempotent


def test_template_is_valid_cloudformation():
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", str(TEMPLATE)], capture_output=True, text=True
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], result.stdout


def test_chalice_config_carries_every_output_the_app_reads():
    from infrastructure.chalice_config import chalice_config

    outputs = {name: f"value-of-{name}" for name in load_template()["Outputs"]}
    config = chalice_config(outputs, "prod", "/ai3d/prod/jwt")
    env = config["stages"]["prod"]["environment_variables"]
    assert set(settings.RESOURCE_SETTINGS) <= set(env) and env["JWT_SECRET_SSM_NAME"] == "/ai3d/prod/jwt"
