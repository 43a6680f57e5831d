"""Build the deployable template and the Lambda package: `chalice package` merged with infrastructure/template.yaml.

`make synth` prints the template's path last, `make package` the zip's. Steps:
1. `chalice package --merge-template` generates the functions, the API and the event sources from app.py and
   .chalice/config.json, and merges the hand-written declaration into them (roles, log groups, secrets, the rest).
2. The template is finished: each SQS event source is bound to its declared queue (chalice names queues by
   name; a GetAtt gives CloudFormation the dependency), and no function may keep chalice's placeholder role.
3. Chalice's one zip becomes two, slimmed and warmed: the packages the Lambda runtime already provides (boto3 and its
   dependencies) are dropped, every module is precompiled (unchecked-hash .pyc: /var/task is read-only, so Lambda
   would otherwise compile the sources at each cold start), and the API and authorizer get `api.zip`, without the
   image decoder only the upload judge runs (Pillow, 8 MB), while the event functions get `events.zip`.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infrastructure import cfn

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infrastructure" / "template.yaml"
BUILD = ROOT / "build" / "aws"
CHALICE_STAGE = "aws"  # one chalice stage; the CloudFormation parameter Stage names the deployment
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/declared-per-function-in-infrastructure-template"
# In the python3.11 Lambda runtime already (boto3 and its dependency closure): never shipped in the zip.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
DIST_INFO_PREFIXES = ("boto3-", "botocore-", "s3transfer-", "jmespath-", "python_dateutil-", "urllib3-", "six-")
# Only the upload probe (chalicelib/probe, run by the on_upload function) decodes images.
UPLOAD_ONLY = ("PIL", "pillow.libs", "pillow-")
API_FUNCTIONS = ("APIHandler", "JwtAuth", "WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def _declared_queues(template: dict, stage: str) -> dict[str, str]:
    """Queue name (for `stage`) -> logical id of every declared AWS::SQS::Queue."""
    queues = {}
    for name, spec in template["Resources"].items():
        if spec.get("Type") == "AWS::SQS::Queue":
            queue_name = spec["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", stage)
            queues[queue_name] = name
    return queues


def finish_template(template: dict, local_stage: str) -> dict:
    """Bind SQS event sources to their declared queues, give each function its package, and check every function
    has its declared role."""
    queues = _declared_queues(template, local_stage)
    for name, spec in template["Resources"].items():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        props = spec["Properties"]
        if props.get("Role") == PLACEHOLDER_ROLE or "CodeUri" not in props:
            raise SystemExit(
                f"{name}: infrastructure/template.yaml declares no role for it, or it is not a chalice "
                f"function (the merge left {sorted(props)})"
            )
        props["CodeUri"] = "./api.zip" if name in API_FUNCTIONS else "./events.zip"
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue_name = event["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[-1]
            if queue_name not in queues:
                raise SystemExit(f"{name} listens to {queue_name}, which infrastructure/template.yaml does not declare")
            event["Properties"]["Queue"] = {"Fn::GetAtt": [queues[queue_name], "Arn"]}
    return template


def build_packages(source: Path, out: Path) -> list[Path]:
    """api.zip and events.zip from chalice's zip: no runtime-provided packages, every module precompiled, entries in a
    fixed order (the same sources give the same bytes)."""
    if sys.version_info[:2] != (3, 11):
        raise SystemExit("precompiled modules must match the Lambda runtime: run with Python 3.11")
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        with zipfile.ZipFile(source) as archive:
            archive.extractall(tree)
        for entry in tree.iterdir():
            if entry.name.removesuffix(".py") in RUNTIME_PROVIDED or entry.name.startswith(DIST_INFO_PREFIXES):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        compileall.compile_dir(
            tree,
            quiet=2,
            force=True,
            ddir="/var/task",
            workers=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        files = sorted(p for p in tree.rglob("*") if p.is_file())
        packages = []
        for name, skip in (("api.zip", UPLOAD_ONLY), ("events.zip", ())):
            target = out / name
            target.unlink(missing_ok=True)
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
                for path in files:
                    relative = path.relative_to(tree)
                    if skip and relative.parts[0].startswith(skip):
                        continue
                    info = zipfile.ZipInfo(str(relative), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
            packages.append(target)
        return packages


def package_sizes(path: Path) -> tuple[int, int]:
    """(zipped, unzipped) bytes of a deployment package."""
    with zipfile.ZipFile(path) as archive:
        return path.stat().st_size, sum(info.file_size for info in archive.infolist())


def synth(out: Path = BUILD) -> tuple[Path, list[Path]]:
    """Build everything into `out`; (template path, [zip paths])."""
    out.mkdir(parents=True, exist_ok=True)
    declaration = cfn.load(TEMPLATE)
    merge = out / "declaration.json"  # chalice's YAML reader mishandles nested short-form intrinsics: give it JSON
    merge.write_text(json.dumps(declaration))
    chalice_out = out / "chalice"
    shutil.rmtree(chalice_out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STAGE"))}
    env["AWS_DEFAULT_REGION"] = "us-east-1"  # chalice wants a region; the template itself is region-free
    subprocess.run(
        [
            str(Path(sys.executable).parent / "chalice"),
            "--project-dir",
            str(ROOT),
            "package",
            "--stage",
            CHALICE_STAGE,
            "--merge-template",
            str(merge),
            "--template-format",
            "json",
            str(chalice_out),
        ],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    template = finish_template(json.loads((chalice_out / "sam.json").read_text()), local_stage="local")
    template_path = out / "template.yaml"
    cfn.dump(template, template_path)
    shutil.copy(TEMPLATE.parent / "pipeline.asl.json", out / "pipeline.asl.json")  # DefinitionS3Location, relative
    packages = build_packages(chalice_out / "deployment.zip", out)
    for package in packages:
        zipped, unzipped = package_sizes(package)
        if zipped > LAMBDA_ZIPPED_LIMIT or unzipped > LAMBDA_UNZIPPED_LIMIT:
            raise SystemExit(f"{package} is over the Lambda limits: {zipped} bytes zipped, {unzipped} unzipped")
    merge.unlink()
    shutil.rmtree(chalice_out)
    return template_path, packages


def main(argv: list[str] | None = None) -> None:
    """Build, then print the template path (--print template) or the package paths (--print packages) last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", choices=("template", "packages"), default="template", dest="what")
    parser.add_argument("--out", type=Path, default=BUILD)
    args = parser.parse_args(argv)
    template, packages = synth(args.out)
    for package in packages:
        zipped, unzipped = package_sizes(package)
        print(f"# {package.name}: {zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped")
    print("\n".join(str(p) for p in ([template] if args.what == "template" else packages)))


if __name__ == "__main__":
    main()
