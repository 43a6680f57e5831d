"""Deploy infrastructure/template.yaml into an AWS endpoint (the emulator) and return its Outputs.

moto's CloudFormation drops bucket notifications and TTL, and its state machines are invisible to
the executing Step Functions backend, so this module reads the same template and creates each
resource with the service APIs instead. It understands the subset of CloudFormation the template
uses (Ref, GetAtt .Arn, Sub, DependsOn, Parameters) and is idempotent: deploying twice is a no-op
apart from updating what can change. On real AWS use `aws cloudformation deploy` on the template.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import ClientError

TEMPLATE = Path(__file__).resolve().parents[1] / "infrastructure" / "template.yaml"
ACCOUNT_ID = "123456789012"


class _Tag:
    """A CloudFormation short-form intrinsic (!Ref, !GetAtt, !Sub) kept for later resolution."""

    def __init__(self, fn: str, value):
        self.fn, self.value = fn, value


def _loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    for tag, fn in (("!Ref", "Ref"), ("!GetAtt", "Fn::GetAtt"), ("!Sub", "Fn::Sub")):

        def construct(loader, node, fn=fn):
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                return _Tag(fn, value.split(".", 1) if fn == "Fn::GetAtt" else value)
            return _Tag(fn, loader.construct_sequence(node, deep=True))

        Loader.add_constructor(tag, construct)
    return Loader


def load_template(path: Path = TEMPLATE) -> dict:
    """Parse the template, keeping intrinsic functions as markers; local files it points at are read in
    (a state machine's `DefinitionS3Location`, as `aws cloudformation package` would upload them)."""
    template = yaml.load(path.read_text(), Loader=_loader())
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::StepFunctions::StateMachine" and isinstance(
            props.get("DefinitionS3Location"), str
        ):
            props["Definition"] = json.loads((path.parent / props.pop("DefinitionS3Location")).read_text())
    return template


def _refs(value) -> set[str]:
    """Logical ids a value depends on."""
    if isinstance(value, _Tag):
        if value.fn == "Ref":
            return {value.value}
        if value.fn == "Fn::GetAtt":
            return {value.value[0]}
        text = value.value if isinstance(value.value, str) else value.value[0]
        return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
    if isinstance(value, dict):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set()


class Deployer:
    """Creates the template's resources in dependency order through the service APIs."""

    def __init__(self, template: dict, parameters: dict | None = None, stack_name: str = "ai3d"):
        self.template = template
        self.region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.values: dict[str, object] = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
        }
        for name, spec in template.get("Parameters", {}).items():
            self.values[name] = str((parameters or {}).get(name, spec.get("Default")))
        self.attrs: dict[str, dict[str, str]] = {}
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        """A boto3 client for the current endpoint (AWS_ENDPOINT_URL), made once."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def resolve(self, value):
        """Replace intrinsic functions by concrete values."""
        if isinstance(value, _Tag):
            if value.fn == "Ref":
                return self.values[value.value]
            if value.fn == "Fn::GetAtt":
                return self.attrs[value.value[0]][value.value[1]]
            text, extra = (
                (value.value, {}) if isinstance(value.value, str) else (value.value[0], self.resolve(value.value[1]))
            )

            def sub(match):
                key = match.group(1)
                if key in extra:
                    return str(extra[key])
                if "." in key:
                    logical, attr = key.split(".", 1)
                    return str(self.attrs[logical][attr])
                return str(self.values[key])

            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def order(self) -> list[str]:
        """Logical ids sorted so every resource comes after what it references."""
        resources = self.template["Resources"]
        deps = {}
        for name, spec in resources.items():
            depends = spec.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            deps[name] = (_refs(spec.get("Properties", {})) | set(depends)) & set(resources)
        ordered: list[str] = []
        while len(ordered) < len(resources):
            ready = [n for n in resources if n not in ordered and deps[n] <= set(ordered)]
            if not ready:
                raise ValueError(f"circular references among {sorted(set(resources) - set(ordered))}")
            ordered.extend(ready)
        return ordered

    def deploy(self) -> dict[str, str]:
        """Create or update every resource; return the resolved Outputs."""
        for name in self.order():
            spec = self.template["Resources"][name]
            handler = getattr(self, "_" + spec["Type"].replace("::", "_"))
            handler(name, self.resolve(spec.get("Properties", {})))
        return {k: str(self.resolve(v["Value"])) for k, v in self.template.get("Outputs", {}).items()}

    # ------------------------------------------------------------------ resource types
    def _AWS_SQS_Queue(self, name: str, props: dict) -> None:
        sqs = self.client("sqs")
        attributes = {
            k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in props.items() if k != "QueueName"
        }
        try:
            url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            url = sqs.get_queue_url(QueueName=props["QueueName"])["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.values[name] = url
        self.attrs[name] = {"Arn": arn, "QueueName": props["QueueName"], "QueueUrl": url}

    def _AWS_SQS_QueuePolicy(self, name: str, props: dict) -> None:
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        self.values[name] = name

    def _AWS_S3_Bucket(self, name: str, props: dict) -> None:
        s3 = self.client("s3")
        bucket = props["BucketName"]
        try:
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if "CorsConfiguration" in props:
            rename = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}  # CloudFormation -> S3 API names
            rules = [{rename.get(k, k): v for k, v in rule.items()} for rule in props["CorsConfiguration"]["CorsRules"]]
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        if queues:
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": q["Queue"],
                            "Events": [q["Event"]],
                            "Filter": {"Key": {"FilterRules": q.get("Filter", {}).get("S3Key", {}).get("Rules", [])}},
                        }
                        for q in queues
                    ]
                },
            )
        self.values[name] = bucket
        self.attrs[name] = {"Arn": f"arn:aws:s3:::{bucket}"}

    def _AWS_DynamoDB_Table(self, name: str, props: dict) -> None:
        ddb = self.client("dynamodb")
        table = props["TableName"]
        args = {k: v for k, v in props.items() if k not in ("TimeToLiveSpecification",)}
        try:
            ddb.create_table(**args)
            ddb.get_waiter("table_exists").wait(TableName=table)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            current = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl)
        self.values[name] = table
        self.attrs[name] = {"Arn": ddb.describe_table(TableName=table)["Table"]["TableArn"]}

    def _AWS_IAM_Role(self, name: str, props: dict) -> None:
        iam = self.client("iam")
        role = props["RoleName"]
        try:
            arn = iam.create_role(
                RoleName=role, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
            )["Role"]["Arn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=role, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
        self.values[name] = role
        self.attrs[name] = {"Arn": arn}

    def _AWS_StepFunctions_StateMachine(self, name: str, props: dict) -> None:
        sfn = self.client("stepfunctions")
        definition = json.dumps(props["Definition"])
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            # Numbers substitute unquoted, as CloudFormation does for numeric values.
            quoted = "${" + key + "}"
            if str(value).isdigit():
                definition = definition.replace(f'"{quoted}"', str(value))
            definition = definition.replace(quoted, str(value))
        sm_name = props["StateMachineName"]
        arn = f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:{sm_name}"
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=props["RoleArn"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineDoesNotExist":
                raise
            arn = sfn.create_state_machine(name=sm_name, definition=definition, roleArn=props["RoleArn"])[
                "stateMachineArn"
            ]
        self.values[name] = arn
        self.attrs[name] = {"Arn": arn, "Name": sm_name}


def deploy(parameters: dict | None = None, template_path: Path = TEMPLATE) -> dict[str, str]:
    """Deploy the template into the current endpoint and return its Outputs (env var name -> value)."""
    return Deployer(load_template(template_path), parameters).deploy()


def main(argv: list[str] | None = None) -> None:
    """CLI: deploy and print the Outputs as JSON (or write them to --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--param", action="append", default=[], help="Name=Value template parameter")
    parser.add_argument("--out", help="write the Outputs as JSON to this file")
    args = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit(
            "AWS_ENDPOINT_URL is not set: this deployer targets an emulator; use `aws cloudformation deploy` for AWS"
        )
    outputs = deploy(dict(p.split("=", 1) for p in args.param))
    text = json.dumps(outputs, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
