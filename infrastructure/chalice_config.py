"""Write .chalice/config.json for `chalice deploy` from a deployed CloudFormation stack's Outputs (AWS only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]


def chalice_config(outputs: dict[str, str], stage: str, jwt_secret_ssm_name: str, existing: dict | None = None) -> dict:
    """The config with `stage` holding the stack's Outputs as Lambda environment variables."""
    config = existing or {"version": "2.0", "app_name": "ai3d", "stages": {}}
    config["stages"][stage] = {
        "api_gateway_stage": "api",
        "lambda_timeout": 60,
        "lambda_memory_size": 1024,
        "environment_variables": {
            **outputs,
            "JWT_SECRET_SSM_NAME": jwt_secret_ssm_name,
            "POWERTOOLS_SERVICE_NAME": "ai3d-api",
            "POWERTOOLS_METRICS_NAMESPACE": "AI3D",
        },
    }
    return config


def main() -> None:
    """Read the stack's Outputs and write (or update) .chalice/config.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--stack", required=True, help="the CloudFormation stack deployed from infrastructure/template.yaml"
    )
    parser.add_argument("--stage", required=True, help="chalice stage name, e.g. prod")
    parser.add_argument(
        "--jwt-secret-ssm-name", required=True, help="SSM SecureString parameter holding the JWT secret"
    )
    args = parser.parse_args()
    stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    path = ROOT / ".chalice" / "config.json"
    existing = json.loads(path.read_text()) if path.exists() else None
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps(chalice_config(outputs, args.stage, args.jwt_secret_ssm_name, existing), indent=2) + "\n"
    )
    print(f"wrote {path} stage {args.stage} from stack {args.stack}")


if __name__ == "__main__":
    main()
