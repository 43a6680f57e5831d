"""The one declaration: every resource the code names is in infrastructure/template.yaml, its policies are least
privilege, and its emulatable part deploys (the synthesized template and the packages: test_packaging.py)."""

import base64
import hashlib
import json
import re
from pathlib import Path

import boto3

from chalicelib import settings
from devstack.deploy import TEMPLATE, deploy, load_template

ROOT = Path(__file__).resolve().parents[3]
DATA_SERVICES = ("dynamodb:", "s3:", "sqs:", "states:", "secretsmanager:")
NO_RESOURCE_ARN = {"states:SendTaskSuccess", "states:SendTaskFailure"}  # token-authorised


def resources(of_type: str) -> dict:
    """Declared resources of one type, by logical id."""
    return {name: spec for name, spec in load_template()["Resources"].items() if spec["Type"] == of_type}


def statements(role: dict) -> list[dict]:
    """Every statement of a role's inline policies."""
    return [s for policy in role["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def as_list(value) -> list:
    """A policy element (one value or a list) as a list."""
    return value if isinstance(value, list) else [value]


def function_environment() -> dict:
    """The environment every function gets (Globals)."""
    return load_template()["Globals"]["Function"]["Environment"]["Variables"]


def task_environments() -> dict[str, dict]:
    """Each worker container's environment, by container name."""
    return {
        container["Name"]: {e["Name"]: e["Value"] for e in container["Environment"]}
        for task in resources("AWS::ECS::TaskDefinition").values()
        for container in task["Properties"]["ContainerDefinitions"]
    }


def test_every_setting_that_names_a_resource_is_in_the_functions_environment():
    assert set(function_environment()) == set(settings.RESOURCE_SETTINGS)


def test_outputs_have_the_alphanumeric_ids_cloudformation_requires():
    assert all(re.fullmatch(r"[A-Za-z0-9]+", name) for name in load_template()["Outputs"])


def test_workers_read_only_what_their_task_definitions_declare_with_the_functions_values():
    code = "".join(p.read_text() for p in (ROOT / "container_workers").rglob("*.py"))
    # names of cloud resources (WORKER_NAME, say, names a process: its default, host-pid, suits ECS tasks)
    named = set(re.findall(r'os\.environ(?:\.get)?\[?\(?"([A-Z_]+(?:_URL|TABLE_NAME|_BUCKET|_ARN))"', code))
    tasks = task_environments()
    declared = set().union(*(set(env) for env in tasks.values()))
    assert named and named <= declared, named - declared
    functions = function_environment()
    for env in tasks.values():
        assert {k: v for k, v in env.items() if k in functions} == {k: functions[k] for k in env if k in functions}


def test_event_handler_queues_are_declared():
    from app import app

    declared = {
        spec["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", "local")
        for spec in resources("AWS::SQS::Queue").values()
    }
    queues = {source.queue for source in app.event_sources if getattr(source, "queue", None)}
    assert queues and queues <= declared


def test_each_function_and_each_worker_runs_as_its_own_role():
    functions = resources("AWS::Serverless::Function")
    # the three WebSocket handlers (connect, message, disconnect) are one duty and share one role
    websocket = {
        spec["Properties"]["Role"]["Fn::GetAtt"][0] for n, spec in functions.items() if n.startswith("Websocket")
    }
    assert websocket == {"WebsocketFunctionRole"}
    function_roles = [
        spec["Properties"]["Role"]["Fn::GetAtt"][0] for n, spec in functions.items() if not n.startswith("Websocket")
    ] + sorted(websocket)
    task_roles = [
        spec["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0] for spec in resources("AWS::ECS::TaskDefinition").values()
    ]
    roles = function_roles + task_roles
    assert len(functions) == 9 and len(set(roles)) == len(roles) and set(roles) <= set(resources("AWS::IAM::Role"))


def test_policies_are_least_privilege():
    for name, role in resources("AWS::IAM::Role").items():
        for statement in statements(role):
            actions = as_list(statement["Action"])
            assert not [a for a in actions if "*" in a], f"{name}: wildcard action in {actions}"
            data = [a for a in actions if a.startswith(DATA_SERVICES) and a not in NO_RESOURCE_ARN]
            assert not (data and "*" in as_list(statement["Resource"])), f"{name}: {data} on every resource"


def test_the_authorizer_can_do_nothing_the_api_cannot():
    """Locally one process plays both (the authorizer runs inside chalice's server), with the API's role."""
    roles = resources("AWS::IAM::Role")

    def grants(role: str, exclude_logs: bool) -> set:
        return {
            (action, json.dumps(resource, sort_keys=True))
            for s in statements(roles[role])
            for action in as_list(s["Action"])
            for resource in as_list(s["Resource"])
            if not (exclude_logs and action.startswith("logs:"))
        }

    assert grants("AuthorizerFunctionRole", True) <= grants("ApiFunctionRole", True)


def test_each_secret_goes_only_to_the_functions_that_use_it():
    functions = resources("AWS::Serverless::Function")
    readers = {
        name: {v for v in spec["Properties"].get("Environment", {}).get("Variables", {}) if v.endswith("_SECRET_ARN")}
        for name, spec in functions.items()
    }
    assert readers["APIHandler"] == {"JWT_SECRET_ARN", "WEBHOOK_SECRET_ARN", "STRIPE_SECRET_ARN"}  # Stripe: API only
    assert readers["JwtAuth"] == {"JWT_SECRET_ARN"} and readers["OnJobEvent"] == {"WEBHOOK_SECRET_ARN"}
    assert readers["WebsocketMessage"] == {"JWT_SECRET_ARN"}  # it verifies the access token a client sends
    assert not readers["OnUpload"] | readers["SweepJobs"] | readers["MonthlyGrants"]
    assert not readers["WebsocketConnect"] | readers["WebsocketDisconnect"]


def test_the_web_apps_content_security_policy_admits_its_inline_import_map():
    html = (ROOT / "web" / "index.html").read_text()
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
    policy = resources("AWS::CloudFront::ResponseHeadersPolicy")["WebSecurityHeaders"]["Properties"]
    csp = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"][
        "ContentSecurityPolicy"
    ]
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["Fn::Sub"], "web/index.html's inline script changed: update the CSP hash"


def test_deploy_creates_everything_with_notification_ttl_redrive_and_protection(aws):
    s3, sqs, ddb, sfn = (boto3.client(s, region_name="us-east-1") for s in ("s3", "sqs", "dynamodb", "stepfunctions"))
    bucket, table = aws["ASSETS_BUCKET"], aws["TABLE_NAME"]
    rules = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert (
        rules[0]["QueueArn"].endswith("upload-events")
        and rules[0]["Filter"]["Key"]["FilterRules"][0]["Value"] == "uploads/"
    )
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["AttributeName"] == "ttl"
    description = ddb.describe_table(TableName=table)["Table"]
    assert {i["IndexName"] for i in description["GlobalSecondaryIndexes"]} == {"gsi1", "gsi2", "gsi3"}
    assert description["DeletionProtectionEnabled"]
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    for name in ("UPLOAD_EVENTS_QUEUE_URL", "GPU_QUEUE_URL", "BLENDER_QUEUE_URL", "JOB_EVENTS_QUEUE_URL"):
        attributes = sqs.get_queue_attributes(QueueUrl=aws[name], AttributeNames=["RedrivePolicy"])["Attributes"]
        assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith("-dlq")
    machine = sfn.describe_state_machine(stateMachineArn=aws["PIPELINE_STATE_MACHINE_ARN"])
    worker = json.loads(machine["definition"])["States"]["RunStages"]["Iterator"]["States"]["RunOnWorker"]
    assert worker["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert machine["tracingConfiguration"]["enabled"] and machine["loggingConfiguration"]["level"] == "ERROR"
    assert deploy() == aws  # idempotent


def test_deploy_lists_what_the_emulator_does_not_run(aws):
    skipped = {}
    deploy(report=skipped.update)
    assert {
        "APIHandler",
        "JwtAuth",
        "OnUpload",
        "RestAPI",
        "GpuWorkerService",
        "WebDistribution",
        "JwtSecret",
        "FunctionErrorsAlarm",
        "GpuWorkerScaling",
    } <= set(skipped)
    assert set(skipped) | set(resources("AWS::IAM::Role")) | {"MainTable", "AssetsBucket", "JobPipeline"} >= set(
        load_template(TEMPLATE)["Resources"]
    ) - {
        n for n in load_template()["Resources"] if n.endswith(("Queue", "DLQ", "QueuePolicy", "LogGroup", "WebBucket"))
    }
