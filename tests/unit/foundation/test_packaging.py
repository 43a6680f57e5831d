"""`make synth` and `make package`: the deployable template passes cfn-lint, and each Lambda package imports its
handlers in a bare interpreter, within the size limits (the API's under 10 MB)."""

import ast
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devstack.deploy import deploy
from infrastructure import cfn
from infrastructure.synth import API_FUNCTIONS, RUNTIME_PROVIDED, package_sizes

ROOT = Path(__file__).resolve().parents[3]
MB = 1024 * 1024


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One synth for the module: (template path, {zip name: path}); the make targets print these paths last."""
    out = tmp_path_factory.mktemp("synth")
    result = subprocess.run(
        [sys.executable, "-m", "infrastructure.synth", "--print", "packages", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [Path(line) for line in result.stdout.splitlines()[-2:]]
    assert [p.name for p in printed] == ["api.zip", "events.zip"] and all(p.is_file() for p in printed)
    return out / "template.yaml", {p.name: p for p in printed}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """What the python3.11 Lambda runtime puts on the path besides the package: boto3 and its dependencies."""
    directory = tmp_path_factory.mktemp("var-runtime")
    for name in RUNTIME_PROVIDED:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


def test_the_template_passes_cfn_lint(built):
    template, _ = built
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_has_its_package_role_and_partial_batch_failures(built):
    template, _ = built
    resources = cfn.load(template)["Resources"]
    functions = {n: s["Properties"] for n, s in resources.items() if s["Type"] == "AWS::Serverless::Function"}
    assert len(functions) == 9
    for name, props in functions.items():
        assert props["CodeUri"] == ("./api.zip" if name in API_FUNCTIONS else "./events.zip")
        role = "Websocket" if name.startswith("Websocket") else name  # the three WebSocket handlers share one
        assert cfn.intrinsic(props["Role"]) == (
            "Fn::GetAtt",
            [f"{role.replace('JwtAuth', 'Authorizer').replace('APIHandler', 'Api')}FunctionRole", "Arn"],
        )
        for event in props.get("Events", {}).values():
            if event["Type"] == "SQS":
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
                queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                assert resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * props["Timeout"]  # Lambda's advice
    assert (template.parent / "pipeline.asl.json").is_file()


def test_the_local_deployer_deploys_the_synthesized_template_as_the_declaration(built, aws):
    template, _ = built
    skipped: dict = {}
    assert deploy(template_path=template, report=skipped.update) == aws  # same resources, same environment
    assert {"APIHandler", "JwtAuth", "RestAPI", "APIHandlerInvokePermission"} <= set(skipped)


def test_packages_are_within_the_lambda_limits_and_the_api_one_under_10_mb(built):
    _, packages = built
    for path in packages.values():
        zipped, unzipped = package_sizes(path)
        assert zipped < 50 * MB and unzipped < 250 * MB, (path.name, zipped, unzipped)
    assert package_sizes(packages["api.zip"])[0] < 10 * MB
    with zipfile.ZipFile(packages["events.zip"]) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.split("/")[0] in RUNTIME_PROVIDED + ("cv2", "numpy", "trimesh")]
    assert "chalicelib/__pycache__/settings.cpython-311.pyc" in names  # precompiled: /var/task is read-only


def test_no_package_ships_pydantic_and_the_api_ships_its_document(built):
    """The models only write chalicelib/api/openapi.json at build time; the Lambdas validate with the document."""
    _, packages = built
    for path in packages.values():
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        assert not [n for n in names if n.split("/")[0].split("-")[0] in ("pydantic", "pydantic_core")], path.name
    with zipfile.ZipFile(packages["api.zip"]) as archive:
        assert "chalicelib/api/openapi.json" in archive.namelist()


@pytest.mark.parametrize("package", ["api.zip", "events.zip"])
def test_each_package_imports_its_handlers_in_a_bare_interpreter(built, runtime, package, tmp_path):
    template, packages = built
    with zipfile.ZipFile(packages[package]) as archive:
        archive.extractall(tmp_path)
    handlers = sorted(
        s["Properties"]["Handler"]
        for s in cfn.load(template)["Resources"].values()
        if s["Type"] == "AWS::Serverless::Function" and s["Properties"]["CodeUri"] == f"./{package}"
    )
    imports = "; ".join(
        f"getattr(importlib.import_module('{h.rsplit('.', 1)[0]}'), '{h.rsplit('.', 1)[1]}')" for h in handlers
    )
    # -I: no PYTHON* variables or user site; -S: no site-packages (the venv's would hide what the package lacks)
    code = f"import sys, importlib; sys.path[:0] = [{str(tmp_path)!r}, {str(runtime)!r}]; {imports}; print('ok')"
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": "ai3d-test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "fake",
        "AWS_SECRET_ACCESS_KEY": "fake",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_only_the_upload_probe_decodes_images_and_only_when_called():
    """What keeps the API package without Pillow safe: no other module imports PIL, and the probe imports it lazily."""
    for path in (ROOT / "chalicelib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == "PIL" for n in names):
                assert "probe" in path.relative_to(ROOT).parts, f"{path} imports PIL"
                assert node not in tree.body, f"{path} imports PIL at module level"
