"""Deploy the declaration into an AWS endpoint (the emulator) and return the environment it gives the functions.

It reads infrastructure/template.yaml - or the synthesized build/aws/template.yaml, which holds the same resources
plus chalice's functions and API - and creates each resource the emulator can run through the service APIs:
moto's CloudFormation drops bucket notifications and TTL, and its state machines are invisible to the executing
Step Functions backend. What the emulator cannot run (functions, API, containers, CDN, alarms, network, secrets)
is skipped and listed; the local runner plays those parts. Every property of a deployed resource is either applied
or refused with an error, never silently dropped. Deploying twice is a no-op apart from updating what can change.
On AWS: `make deploy` (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from infrastructure import cfn

TEMPLATE = Path(__file__).resolve().parents[1] / "infrastructure" / "template.yaml"
ACCOUNT_ID = "123456789012"
# Resource type (prefix) -> who plays it locally, for the types the emulator does not run.
PLAYED_LOCALLY = {
    "AWS::Serverless::Function": "the Chalice app runs in the api and events processes",
    "AWS::Serverless::Api": "devstack/api.py serves the routes",
    "AWS::Lambda::": "the Chalice app runs in the api and events processes",
    "AWS::ApiGateway::": "devstack/api.py serves the routes",
    "AWS::ApiGatewayV2::": "devstack/ws.py serves the WebSocket API",
    "AWS::ECS::": "the workers run as local processes",
    "AWS::ECR::": "the workers run from the source tree",
    "AWS::ApplicationAutoScaling::": "the stack runs the workers it is told to",
    "AWS::EC2::": "local processes need no network",
    "AWS::CloudFront::": "devstack/web.py serves the web app",
    "AWS::CloudWatch::": "no alarms locally",
    "AWS::SNS::": "no alarms locally",
    "AWS::SecretsManager::": "the stack generates the secrets in its state dir (JWT_SECRET / WEBHOOK_SECRET / STRIPE_*)",
    "AWS::S3::BucketPolicy": "local presigned URLs are plain HTTP, which the TLS-only policies refuse",
}


class Skipped:
    """The value of a reference to a resource the emulator does not run."""

    def __init__(self, logical_id: str):
        self.logical_id = logical_id


def load_template(path: Path = TEMPLATE) -> dict:
    """Parse a template (intrinsics in long form); local files it points at are read in (a state machine's
    `DefinitionS3Location`, as `aws cloudformation package` would upload them)."""
    template = cfn.load(path)
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::StepFunctions::StateMachine" and isinstance(
            props.get("DefinitionS3Location"), str
        ):
            props["Definition"] = json.loads((path.parent / props.pop("DefinitionS3Location")).read_text())
    return template


def reason_skipped(resource_type: str) -> str | None:
    """Why a resource type is not deployed into the emulator (None when it is)."""
    return next((why for prefix, why in PLAYED_LOCALLY.items() if resource_type.startswith(prefix)), None)


def _refs(value) -> set[str]:
    """Logical ids (and parameters) a value depends on."""
    call = cfn.intrinsic(value)
    if call:
        fn, arg = call
        if fn == "Ref":
            return {arg}
        if fn == "Fn::GetAtt":
            return {(arg.split(".", 1) if isinstance(arg, str) else arg)[0]}
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else arg
            return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - set(extra) | _refs(extra)
        return _refs(arg)
    if isinstance(value, dict):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set()


def _prune_policies(props: dict) -> dict:
    """A role's inline policies without the resources the emulator does not run (a statement left with none goes)."""
    for policy in props.get("Policies", []):
        statements = []
        for statement in policy["PolicyDocument"]["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            kept = [r for r in resources if not isinstance(r, Skipped)]
            if kept:
                statements.append({**statement, "Resource": kept})
        policy["PolicyDocument"]["Statement"] = statements
    return props


def _camel(value):
    """CloudFormation's PascalCase property names -> the Step Functions API's camelCase, recursively."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


class Deployer:
    """Creates the template's emulatable resources in dependency order through the service APIs."""

    def __init__(self, template: dict, parameters: dict | None = None, stack_name: str = "ai3d"):
        self.template = template
        self.region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.values: dict[str, object] = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        for name, spec in template.get("Parameters", {}).items():
            self.values[name] = str((parameters or {}).get(name, spec.get("Default")))
        self.attrs: dict[str, dict[str, str]] = {}
        self.skipped: dict[str, str] = {}  # logical id -> why
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        """A boto3 client for the current endpoint (AWS_ENDPOINT_URL), made once."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def resolve(self, value):
        """Replace intrinsic functions by concrete values (a Skipped marker for a skipped resource's)."""
        call = cfn.intrinsic(value)
        if call is None:
            if isinstance(value, dict):
                return {k: self.resolve(v) for k, v in value.items()}
            if isinstance(value, list):
                return [self.resolve(v) for v in value]
            return value
        fn, arg = call
        if fn == "Ref":
            return Skipped(arg) if arg in self.skipped else self.values[arg]
        if fn == "Fn::GetAtt":
            logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
            return Skipped(logical) if logical in self.skipped else self.attrs[logical][attr]
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            parts: dict[str, object] = {}
            for key in re.findall(r"\$\{([^}!]+)\}", text):
                if key in extra:
                    parts[key] = extra[key]
                elif "." in key:
                    parts[key] = self.resolve({"Fn::GetAtt": key.split(".", 1)})
                else:
                    parts[key] = self.resolve({"Ref": key})
            missing = [v for v in parts.values() if isinstance(v, Skipped)]
            if missing:
                return missing[0]
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(parts[m.group(1)]), text)
        if fn == "Fn::Join":
            items = self.resolve(arg[1])
            skipped = [v for v in items if isinstance(v, Skipped)]
            return skipped[0] if skipped else arg[0].join(str(v) for v in items)
        raise ValueError(f"the local deployer does not evaluate {fn}")

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
        """Create or update every emulatable resource; return the functions' environment (Globals), resolved."""
        resources = self.template["Resources"]
        for name, spec in resources.items():
            why = reason_skipped(spec["Type"])
            if why:
                self.skipped[name] = f"{spec['Type']}: {why}"
        for name in self.order():
            if name in self.skipped:
                continue
            spec = resources[name]
            props = self.resolve(spec.get("Properties", {}))
            if spec["Type"] == "AWS::IAM::Role":
                props = _prune_policies(props)  # a policy may name a skipped resource (a secret, say)
            blocked = sorted(_refs(spec.get("Properties", {})) & set(self.skipped))
            if blocked and spec["Type"] != "AWS::IAM::Role":
                raise ValueError(f"{name} needs {blocked}, which the emulator does not run")
            handler = getattr(self, "_" + spec["Type"].replace("::", "_"), None)
            if handler is None:
                raise ValueError(
                    f"{name}: the local deployer knows no {spec['Type']} (deploy it or list it in PLAYED_LOCALLY)"
                )
            handler(name, props)
        variables = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        environment = {k: self.resolve(v) for k, v in variables.items()}
        return {k: str(v) for k, v in environment.items() if not isinstance(v, Skipped)}

    @staticmethod
    def _only(name: str, props: dict, known: set[str]) -> None:
        unknown = set(props) - known
        if unknown:
            raise ValueError(f"{name}: the local deployer does not apply {sorted(unknown)}")

    # ------------------------------------------------------------------ resource types
    def _AWS_SQS_Queue(self, name: str, props: dict) -> None:
        self._only(name, props, {"QueueName", "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy"})
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
        self._only(name, props, {"Queues", "PolicyDocument"})
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        self.values[name] = name

    def _AWS_S3_Bucket(self, name: str, props: dict) -> None:
        self._only(
            name,
            props,
            {
                "BucketName",
                "CorsConfiguration",
                "NotificationConfiguration",
                "BucketEncryption",
                "PublicAccessBlockConfiguration",
                "LifecycleConfiguration",
                "OwnershipControls",
            },
        )
        s3 = self.client("s3")
        bucket = props["BucketName"]
        try:
            s3.head_bucket(Bucket=bucket)  # there already, with its objects: moto's CreateBucket would empty it
        except ClientError:
            try:
                if self.region == "us-east-1":
                    s3.create_bucket(Bucket=bucket)
                else:
                    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
        if "BucketEncryption" in props:
            rules = [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        if "LifecycleConfiguration" in props:
            rules = []
            for rule in props["LifecycleConfiguration"]["Rules"]:
                converted = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
                if "AbortIncompleteMultipartUpload" in rule:
                    converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
                if "ExpirationInDays" in rule:
                    converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
                rules.append(converted)
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
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
        self.attrs[name] = {
            "Arn": f"arn:aws:s3:::{bucket}",
            "RegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
        }

    def _AWS_DynamoDB_Table(self, name: str, props: dict) -> None:
        self._only(
            name,
            props,
            {
                "TableName",
                "BillingMode",
                "AttributeDefinitions",
                "KeySchema",
                "GlobalSecondaryIndexes",
                "TimeToLiveSpecification",
                "PointInTimeRecoverySpecification",
                "DeletionProtectionEnabled",
            },
        )
        ddb = self.client("dynamodb")
        table = props["TableName"]
        args = {
            k: v for k, v in props.items() if k not in ("TimeToLiveSpecification", "PointInTimeRecoverySpecification")
        }
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
        if "PointInTimeRecoverySpecification" in props:
            ddb.update_continuous_backups(
                TableName=table, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
            )
        self.values[name] = table
        self.attrs[name] = {"Arn": ddb.describe_table(TableName=table)["Table"]["TableArn"]}

    def _AWS_IAM_Role(self, name: str, props: dict) -> None:
        self._only(name, props, {"RoleName", "AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns"})
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
        for policy_arn in props.get("ManagedPolicyArns", []):
            try:
                iam.attach_role_policy(RoleName=role, PolicyArn=policy_arn)
            except ClientError as exc:  # the emulator loads no AWS-managed policies
                if exc.response["Error"]["Code"] != "NoSuchEntity":
                    raise
                self.skipped[f"{name} {policy_arn.rsplit('/', 1)[-1]}"] = "AWS-managed policy: the emulator loads none"
        self.values[name] = role
        self.attrs[name] = {"Arn": arn}

    def _AWS_Logs_LogGroup(self, name: str, props: dict) -> None:
        self._only(name, props, {"LogGroupName", "RetentionInDays"})
        logs = self.client("logs")
        group = props["LogGroupName"]
        try:
            logs.create_log_group(logGroupName=group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=group, retentionInDays=int(props["RetentionInDays"]))
        self.values[name] = group
        self.attrs[name] = {"Arn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{group}:*"}

    def _AWS_StepFunctions_StateMachine(self, name: str, props: dict) -> None:
        self._only(
            name,
            props,
            {
                "StateMachineName",
                "RoleArn",
                "Definition",
                "DefinitionSubstitutions",
                "LoggingConfiguration",
                "TracingConfiguration",
            },
        )
        sfn = self.client("stepfunctions")
        definition = json.dumps(props["Definition"])
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            # Numbers substitute unquoted, as CloudFormation does for numeric values.
            quoted = "${" + key + "}"
            if str(value).isdigit():
                definition = definition.replace(f'"{quoted}"', str(value))
            definition = definition.replace(quoted, str(value))
        options = {
            k[0].lower() + k[1:]: _camel(props[k])
            for k in ("LoggingConfiguration", "TracingConfiguration")
            if k in props
        }
        sm_name = props["StateMachineName"]
        arn = f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:{sm_name}"
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=props["RoleArn"], **options)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineDoesNotExist":
                raise
            arn = sfn.create_state_machine(name=sm_name, definition=definition, roleArn=props["RoleArn"], **options)[
                "stateMachineArn"
            ]
        self.values[name] = arn
        self.attrs[name] = {"Arn": arn, "Name": sm_name}


def deploy(parameters: dict | None = None, template_path: Path = TEMPLATE, report=None) -> dict[str, str]:
    """Deploy the template into the current endpoint; return the functions' environment (name -> value).
    `report(skipped)` receives {logical id: why} for what the emulator does not run."""
    deployer = Deployer(load_template(template_path), parameters)
    environment = deployer.deploy()
    if report:
        report(deployer.skipped)
    return environment


def main(argv: list[str] | None = None) -> None:
    """CLI: deploy, list what was skipped (stderr), and print the environment as JSON (or write it to --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--param", action="append", default=[], help="Name=Value template parameter")
    parser.add_argument(
        "--template", type=Path, default=TEMPLATE, help="infrastructure/template.yaml or a synthesized one"
    )
    parser.add_argument("--out", help="write the environment as JSON to this file")
    args = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("AWS_ENDPOINT_URL is not set: this deployer targets an emulator; use `make deploy` for AWS")

    def report(skipped: dict[str, str]) -> None:
        print(f"skipped {len(skipped)} resources the emulator does not run:", file=sys.stderr)
        by_reason: dict[str, list[str]] = {}
        for logical_id, why in sorted(skipped.items()):
            by_reason.setdefault(why.split(": ", 1)[-1], []).append(logical_id)
        for why, names in by_reason.items():
            print(f"  {why}: {', '.join(names)}", file=sys.stderr)

    environment = deploy(dict(p.split("=", 1) for p in args.param), args.template, report)
    if os.environ.get("STRIPE_API_BASE") and os.environ.get("STRIPE_API_KEY"):
        from chalicelib.billing import plans

        created = plans.ensure_catalog(os.environ["STRIPE_API_KEY"])
        print(f"Stripe plans ready: {', '.join(created)}", file=sys.stderr)
    text = json.dumps(environment, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
