"""`make deploy`: the command sequence, and the web app published as devstack/web.py serves it locally."""

import boto3
from moto import mock_aws

from devstack.web import MOUNTS
from infrastructure import release


def test_the_web_app_is_published_with_the_files_the_local_server_serves():
    assert [(f"/{prefix}", directory) for prefix, directory in release.WEB_FILES] == MOUNTS


def test_publishing_uploads_the_app_and_its_config_then_invalidates_the_cdn():
    with mock_aws():
        s3, cloudfront = (
            boto3.client("s3", region_name="us-east-1"),
            boto3.client("cloudfront", region_name="us-east-1"),
        )
        s3.create_bucket(Bucket="ai3d-prod-web")
        origin = {
            "Id": "web",
            "DomainName": "ai3d-prod-web.s3.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
        }
        distribution = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Comment": "",
                "Enabled": True,
                "Origins": {"Quantity": 1, "Items": [origin]},
                "DefaultCacheBehavior": {
                    "TargetOriginId": "web",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                },
            }
        )["Distribution"]["Id"]
        outputs = {
            "ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/api",
            "WebBucketName": "ai3d-prod-web",
            "WebDistributionId": distribution,
        }
        count = release.publish_web(s3, cloudfront, outputs)
        keys = {
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="ai3d-prod-web")
            for o in page.get("Contents", [])
        }
        assert (
            count == len(keys) and {"index.html", "app.js", "config.js", "vendor/three/build/three.module.js"} <= keys
        )
        config = s3.get_object(Bucket="ai3d-prod-web", Key="config.js")
        assert config["Body"].read().decode().splitlines() == [
            'export const API_URL = "https://abc.execute-api.us-east-1.amazonaws.com/api";',
            'export const STRIPE_JS_URL = "https://js.stripe.com/v3/";',
            'export const STRIPE_PUBLISHABLE_KEY = "";',  # STRIPE_PUBLISHABLE_KEY is not set here
        ]
        assert config["CacheControl"] == "no-cache" and config["ContentType"] == "text/javascript"
        invalidations = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
        assert invalidations["Quantity"] == 1


def test_the_deploy_packages_then_deploys_the_synthesized_template(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(release, "BUILD", tmp_path)
    release.release(
        release.Operator(dry_run=True, region="eu-west-1"), "prod", "ai3d-prod", "abc123", "ops@example.com"
    )
    commands = [line for line in capsys.readouterr().out.splitlines() if line.startswith("+ aws")]
    assert commands[0].startswith(f"+ aws cloudformation package --template-file {tmp_path}/template.yaml")
    assert "--s3-bucket ai3d-artifacts-ACCOUNT-eu-west-1" in commands[0]
    assert commands[1].startswith(f"+ aws cloudformation deploy --template-file {tmp_path}/packaged.yaml")
    assert "--stack-name ai3d-prod" in commands[1] and "CAPABILITY_AUTO_EXPAND" in commands[1]
    assert commands[1].endswith("--parameter-overrides Stage=prod ImageTag=abc123 AlarmEmail=ops@example.com")
