"""Deploy to AWS with the operator's credentials: `make deploy STAGE=prod` runs this after `make synth`.

1. `aws cloudformation package` uploads the Lambda packages and the state machine's definition to an artifacts
   bucket (created once per account and region) and rewrites their paths in the template.
2. `aws cloudformation deploy` creates or updates the stack. The worker services start at zero tasks, so the first
   deploy needs no image yet; on later deploys the images are pushed first, so the new task definitions find them.
3. Both worker images are built from their Dockerfiles and pushed to the stack's ECR repositories, tagged with the
   commit (ImageTag).
4. The web app (web/, three.js, Swagger UI, and a config.js naming the stack's API) is uploaded to the web bucket and the
   CloudFront cache is invalidated.
`--dry-run` prints the commands instead of running them.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "aws"
WORKERS = ("gpu", "blender")
# URL prefix -> directory, as devstack/web.py serves them locally (a test keeps the two equal)
WEB_FILES = [
    ("vendor/swagger-ui/", ROOT / "node_modules" / "swagger-ui-dist"),
    ("vendor/three/examples/jsm/", ROOT / "node_modules" / "three" / "examples" / "jsm"),
    ("vendor/three/build/", ROOT / "node_modules" / "three" / "build"),
    ("", ROOT / "web"),
]
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
}
FRESH = {"index.html", "config.js"}  # always revalidated; the rest may be cached for a day


class Operator:
    """Runs (or, dry, prints) the CLI commands of a deploy; boto3 for what needs answers."""

    def __init__(self, dry_run: bool, region: str | None):
        self.dry_run = dry_run
        self.region = region

    def run(self, *args: str, stdin: str | None = None, capture: bool = False) -> str:
        """Run one command, echoing it; its output when captured."""
        print("+ " + " ".join(shlex.quote(a) for a in args), flush=True)
        if self.dry_run:
            return ""
        return subprocess.run(args, input=stdin, check=True, capture_output=capture, text=True, cwd=ROOT).stdout or ""

    def client(self, service: str):
        """A boto3 client in the deploy's region."""
        import boto3

        return boto3.client(service, region_name=self.region)


def web_files(api_url: str) -> list[tuple[str, bytes, str, str]]:
    """(key, body, content type, cache control) of every file of the web app, config.js included."""
    from devstack.web import config_js

    config = config_js(api_url, "https://js.stripe.com/v3/", os.environ.get("STRIPE_PUBLISHABLE_KEY", ""))
    files = [("config.js", config.encode(), "text/javascript", "no-cache")]
    for prefix, directory in WEB_FILES:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(directory).as_posix()
            kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            cache = "no-cache" if key in FRESH else "public, max-age=86400"
            files.append((key, path.read_bytes(), kind, cache))
    return files


def publish_web(s3, cloudfront, outputs: dict[str, str]) -> int:
    """Upload the web app to the stack's web bucket and invalidate the CDN; how many files."""
    files = web_files(outputs["ApiUrl"])
    for key, body, kind, cache in files:
        s3.put_object(Bucket=outputs["WebBucketName"], Key=key, Body=body, ContentType=kind, CacheControl=cache)
    cloudfront.create_invalidation(
        DistributionId=outputs["WebDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"ai3d-{time.time_ns()}"},
    )
    return len(files)


def stack_outputs(cloudformation, stack: str) -> dict[str, str] | None:
    """The stack's Outputs, or None when it does not exist yet."""
    from botocore.exceptions import ClientError

    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def push_images(op: Operator, outputs: dict[str, str], tag: str) -> None:
    """Build both worker images and push them to the stack's repositories."""
    registry = outputs["GpuWorkerRepositoryUri"].split("/", 1)[0]
    password = op.run("aws", "ecr", "get-login-password", *(["--region", op.region] if op.region else []), capture=True)
    op.run("docker", "login", "--username", "AWS", "--password-stdin", registry, stdin=password)
    for worker in WORKERS:
        image = f"{outputs[f'{worker.capitalize()}WorkerRepositoryUri']}:{tag}"
        op.run(
            "docker",
            "build",
            "--platform",
            "linux/amd64",
            "-f",
            f"container_workers/{worker}_worker/Dockerfile",
            "-t",
            image,
            ".",
        )
        op.run("docker", "push", image)


def ensure_stripe_plans(secretsmanager, outputs: dict[str, str]) -> None:
    """Create the paid tiers' Stripe products and plans that do not exist yet, once the operator has put the Stripe
    key into the stack's Stripe secret (docs/deploy.md); until then billing answers 503 and this says so."""
    from chalicelib.billing import plans

    secret = json.loads(secretsmanager.get_secret_value(SecretId=outputs["StripeSecretArn"])["SecretString"])
    if not secret.get("apiKey"):
        print("no Stripe key in the Stripe secret yet: billing answers 503 until it is set (docs/deploy.md)")
        return
    print(f"Stripe plans ready: {', '.join(plans.ensure_catalog(secret['apiKey']))}")


def release(op: Operator, stage: str, stack: str, tag: str, alarm_email: str) -> None:
    """Package, deploy, push and publish (see the module's docstring)."""
    account = "ACCOUNT" if op.dry_run else op.client("sts").get_caller_identity()["Account"]
    region = op.region or ("REGION" if op.dry_run else op.client("sts").meta.region_name)
    artifacts = f"ai3d-artifacts-{account}-{region}"
    existing = None if op.dry_run else stack_outputs(op.client("cloudformation"), stack)
    if not op.dry_run and not _bucket_exists(op.client("s3"), artifacts):
        op.run("aws", "s3", "mb", f"s3://{artifacts}")
    op.run(
        "aws",
        "cloudformation",
        "package",
        "--template-file",
        str(BUILD / "template.yaml"),
        "--s3-bucket",
        artifacts,
        "--s3-prefix",
        stack,
        "--output-template-file",
        str(BUILD / "packaged.yaml"),
    )
    if existing:  # the repositories exist: push first, so the updated task definitions find their images
        push_images(op, existing, tag)
    overrides = [f"Stage={stage}", f"ImageTag={tag}"] + ([f"AlarmEmail={alarm_email}"] if alarm_email else [])
    op.run(
        "aws",
        "cloudformation",
        "deploy",
        "--template-file",
        str(BUILD / "packaged.yaml"),
        "--stack-name",
        stack,
        "--capabilities",
        "CAPABILITY_IAM",
        "CAPABILITY_NAMED_IAM",
        "CAPABILITY_AUTO_EXPAND",
        "--no-fail-on-empty-changeset",
        "--parameter-overrides",
        *overrides,
    )
    if op.dry_run:
        print("+ (then: docker build/push of both workers, and the web app's upload)")
        return
    outputs = stack_outputs(op.client("cloudformation"), stack) or {}
    if not existing:
        push_images(op, outputs, tag)
    ensure_stripe_plans(op.client("secretsmanager"), outputs)
    count = publish_web(op.client("s3"), op.client("cloudfront"), outputs)
    print(f"published {count} web files; the app: {outputs['WebUrl']}  the API: {outputs['ApiUrl']}")


def _bucket_exists(s3, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError:
        return False


def main(argv: list[str] | None = None) -> None:
    """Parse the options and release."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="e.g. prod: names the resources (ai3d-<stage>-...)")
    parser.add_argument("--stack", help="CloudFormation stack name (default ai3d-<stage>)")
    parser.add_argument("--image-tag", required=True, help="tag for both worker images, e.g. the commit")
    parser.add_argument("--region", help="default: your AWS configuration's")
    parser.add_argument("--alarm-email", default="", help="subscribe this address to the alarms")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = parser.parse_args(argv)
    if not (BUILD / "template.yaml").is_file():
        sys.exit("no build/aws/template.yaml: run `make synth` first")
    release(
        Operator(args.dry_run, args.region),
        args.stage,
        args.stack or f"ai3d-{args.stage}",
        args.image_tag,
        args.alarm_email,
    )


if __name__ == "__main__":
    main()
