"""The `ai3d` command line: accounts, projects, uploads, jobs and downloads over the platform's public HTTP API."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from pathlib import Path

from ai3d.client import DEFAULT_API, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Client, CliError, TokenStore
from ai3d.progress import Progress, human_bytes
from chalicelib.contract import formats, jobtypes, statuses
from chalicelib.contract.params import InvalidParams

# Everything below comes from the contract (chalicelib/contract), the one declaration the API validates against.
# What the API accepts: extension -> (default kind, preferred content type), and which extensions each kind takes.
FILE_TYPES = {
    ext: (formats.default_kind(ext), formats.UPLOADS[formats.default_kind(ext)][ext][0])
    for exts in formats.UPLOADS.values()
    for ext in exts
}
KIND_EXTENSIONS = {kind: tuple(exts) for kind, exts in formats.UPLOADS.items()}
TEXT = "text"  # the "kind" of a prompt input


def short_name(field: str) -> str:
    """An input's command-line name from its API field: "videoAssetId" -> "video", "prompt" -> "prompt"."""
    return field.removesuffix("AssetId")


# Job type -> its asset inputs in order: (API input name, short name, accepted kinds); prompts are separate.
JOB_INPUTS = {
    name: tuple((field, short_name(field), kinds) for field, kinds in spec.inputs.items() if TEXT not in kinds)
    for name, spec in jobtypes.JOB_TYPES.items()
}
# Job type -> its text inputs (given with --prompt).
JOB_PROMPTS = {
    name: tuple(field for field, kinds in spec.inputs.items() if TEXT in kinds)
    for name, spec in jobtypes.JOB_TYPES.items()
}
NAMED_INPUTS = tuple(dict.fromkeys(short for slots in JOB_INPUTS.values() for _, short, _ in slots))
JOB_STATUSES = statuses.JOB_STATUSES
ASSET_ID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


# ---------------------------------------------------------------- pure helpers
def guess_kind(path: Path, accepted: tuple[str, ...] | None = None) -> str:
    """The asset kind of a file from its extension; with `accepted`, the first accepted kind that takes it."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in FILE_TYPES:
        raise CliError(
            f"{path.name}: unsupported file type .{ext or '?'} (supported: {', '.join(sorted(FILE_TYPES))})", EXIT_USAGE
        )
    default = FILE_TYPES[ext][0]
    if accepted is None or default in accepted:
        return default
    for kind in accepted:
        if ext in KIND_EXTENSIONS[kind]:
            return kind
    raise CliError(f"{path.name}: a .{ext} file cannot be used here (expected {' or '.join(accepted)})", EXIT_USAGE)


def content_type(path: Path, kind: str) -> str:
    """The Content-Type the API expects for a file of this extension and kind."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in KIND_EXTENSIONS.get(kind, ()):
        raise CliError(f"{path.name}: {kind} files must be one of: {', '.join(KIND_EXTENSIONS[kind])}", EXIT_USAGE)
    return FILE_TYPES[ext][1]


def parse_param(text: str) -> tuple[str, object]:
    """`k=v` -> (k, v) with v parsed as JSON when it is JSON (numbers, true/false, null, lists), else the string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise CliError(f"--param {text!r}: expected NAME=VALUE", EXIT_USAGE)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def parse_params(items: list[str]) -> dict:
    """All --param values as a dict (a repeated name keeps the last value)."""
    return dict(parse_param(item) for item in items)


def job_type(text: str) -> str:
    """A job type from the command line, case- and dash-insensitive."""
    name = text.upper().replace("-", "_")
    if name not in jobtypes.JOB_TYPES:
        raise argparse.ArgumentTypeError(f"unknown job type {text!r} (choose from {', '.join(jobtypes.JOB_TYPES)})")
    return name


def check_params(job_type_name: str, params: dict) -> dict:
    """The params checked against the contract before anything is uploaded (a usage error, exit 2, if wrong)."""
    try:
        return jobtypes.validate_params(job_type_name, params)
    except InvalidParams as exc:
        raise CliError(f"{exc} (see `ai3d job-types {job_type_name}`)", EXIT_USAGE, InvalidParams.code) from None


def describe_param(spec: dict) -> str:
    """A param's accepted values in a few characters: "float 0..1", "str auto|alpha", "ratios in 0.001..0.999"."""
    if "choices" in spec:
        values = "|".join(map(str, spec["choices"]))
        return f"{spec['type']} of {values}" if spec["type"] == "list" else f"{spec['type']} {values}"
    if "min" in spec or "max" in spec:
        bounds = f"{spec.get('min', '')}..{spec.get('max', '')}"
        return f"list of ratios in {bounds}" if spec["type"] == "ratios" else f"{spec['type']} {bounds}"
    return spec["type"]


def describe_job_type(name: str, spec: dict) -> str:
    """A job type's inputs, cost and params (name, accepted values, default, meaning) as text."""
    cost = f"{spec['cost']} credits" + (
        f" + {spec['costPer10s']} per started 10 s of video" if spec.get("costPer10s") else ""
    )
    slots = [
        f"--prompt TEXT (up to {jobtypes.PROMPT_MAX_CHARS} characters)"
        if TEXT in kinds
        else f"--{short_name(field)} {'|'.join(kinds)}"
        for field, kinds in spec["inputs"].items()
    ]
    files = any(TEXT not in kinds for kinds in spec["inputs"].values())
    where = " (files or asset ids: by name, or as --input in this order)" if files else ""
    lines = [f"{name}: {cost}  (stages: {' -> '.join(spec['stages'])})", f"  inputs{where}: {', '.join(slots)}"]
    rules = [f"required: {', '.join(spec['requiredParams'])}"] if spec["requiredParams"] else []
    rules += [f"exactly one of: {', '.join(spec['oneOfParams'])}"] if spec["oneOfParams"] else []
    if not spec["params"]:
        return "\n".join(lines + ["  params: none"])
    rows = [
        [f"  {param}", describe_param(p), json.dumps(p["default"]) if "default" in p else "-", p["doc"]]
        for param, p in spec["params"].items()
    ]
    lines += [f"  params ({'; '.join(rules)}):" if rules else "  params:"]
    return "\n".join(
        lines + ["  " + line for line in table(rows, ["  NAME", "VALUES", "DEFAULT", "MEANING"]).splitlines()]
    )


def table(rows: list[list], headers: list[str]) -> str:
    """Rows as left-aligned text columns under a header."""
    cells = [headers] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


# ---------------------------------------------------------------- output
class Output:
    """Where a command writes: its result on stdout (JSON with --json), notes and bars on stderr (not with --json)."""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def result(self, data, text: str) -> None:
        """The command's result: `data` as JSON, or `text` for people."""
        print(json.dumps(data, indent=2) if self.as_json else text, flush=True)

    def note(self, text: str) -> None:
        """A line for people about what is happening (silent with --json)."""
        if not self.as_json:
            print(text, file=sys.stderr, flush=True)

    def bar(self, label: str, total: float = 100.0, show_bytes: bool = False) -> Progress:
        """A progress bar (silent with --json or when stderr is not a terminal)."""
        return Progress(label, total, enabled=not self.as_json, show_bytes=show_bytes)


def describe_asset(asset: dict) -> str:
    """One line about an asset."""
    line = f"{asset['id']}  {asset['status']}  {asset['kind']}  {asset['filename']}  {human_bytes(asset['sizeBytes'])}"
    return line + (f"  ({asset['rejectReason']})" if asset.get("rejectReason") else "")


def describe_job(job: dict) -> str:
    """A few lines about a job: status, stage, error and outputs."""
    lines = [
        f"job {job['id']}  {job['type']}  {job['status']}  {job['progress']}%"
        + (f"  stage {job['stage']}" if job.get("stage") else "")
        + f"  ({job['creditsUsed']} credits)"
    ]
    if job.get("progressMessage") and job["status"] not in statuses.TERMINAL:
        lines.append(f"  {job['progressMessage']}")
    if job.get("error"):
        lines.append(f"  error: {job['error']['message']} ({job['error']['code']})")
    for output in job.get("outputs", []):
        where = f"  -> {output['path']}" if output.get("path") else ""
        lines.append(
            f"  {output.get('role') or '-':<10} {output['kind']:<10} {output['filename']:<24} "
            f"{human_bytes(output['sizeBytes']):>9}  {output['assetId']}{where}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- operations (also used by the demo)
def upload_file(
    client: Client, out: Output, project_id: str, path: Path, kind: str | None = None, wait: bool = True
) -> dict:
    """Upload a file as an asset with a progress bar; with `wait`, the asset once READY or REJECTED."""
    if not path.is_file():
        raise CliError(f"{path}: no such file", EXIT_USAGE)
    if path.stat().st_size == 0:
        raise CliError(f"{path}: the file is empty", EXIT_USAGE)
    kind = kind or guess_kind(path)
    size = path.stat().st_size
    with out.bar(f"upload {path.name}", size, show_bytes=True) as bar:
        asset = client.upload(project_id, path, kind, content_type(path, kind), on_read=bar.advance)
    out.note(f"uploaded {path.name} as {kind} asset {asset['id']}; checking it...")
    return client.wait_asset(asset["id"]) if wait else asset


def resolve_input(client: Client, out: Output, project_id: str, value: str, kinds: tuple[str, ...]) -> str:
    """An asset id for a job input: a file is uploaded (and must be accepted); anything else must be an asset id."""
    path = Path(value).expanduser()
    if path.is_file():
        asset = upload_file(client, out, project_id, path, guess_kind(path, kinds))
        if asset["status"] != "READY":
            raise CliError(f"{path.name} was rejected: {asset.get('rejectReason', 'unknown reason')}", EXIT_FAILED)
        return asset["id"]
    if ASSET_ID.match(value):
        return value
    raise CliError(f"{value}: neither a file nor an asset id", EXIT_USAGE)


def follow_job(client: Client, out: Output, job: dict, timeout: float | None = None) -> dict:
    """Wait for a job to end, showing its stage and progress; the final job."""
    updates = []
    with out.bar(job["type"]) as bar:

        def show(current: dict) -> None:
            updates.append(current["progress"])
            stage = current.get("stage") or current["status"].lower()
            message = current.get("progressMessage") or ""
            bar.update(
                current["progress"],
                f"{stage}: {message}" if message and not message.startswith(stage) else message or stage,
            )

        done = client.wait_job(job["id"], show, timeout=timeout)
    out.note(f"followed over {client.transport}: {len(updates)} updates")
    return done


def download_outputs(client: Client, out: Output, job: dict, dest: Path) -> dict:
    """Download every output of a finished job into `dest`; the job with a `path` on each output."""
    used: set[str] = set()
    outputs = []
    for output in job.get("outputs", []):
        name = os.path.basename(output["filename"]) or output["assetId"]
        if name in used:
            name = f"{Path(name).stem}-{output['assetId'][:8]}{Path(name).suffix}"
        used.add(name)
        with out.bar(f"download {name}", output["sizeBytes"], show_bytes=True) as bar:
            path = client.download(output["download"]["url"], dest / name, on_read=bar.advance)
        outputs.append({**output, "path": str(path)})
    return {**job, "outputs": outputs}


def read_password(args, confirm: bool) -> str:
    """The password: from --password-stdin, else $AI3D_PASSWORD, else a prompt on a terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get("AI3D_PASSWORD"):
        password = os.environ["AI3D_PASSWORD"]
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat password: ") != password:
            raise CliError("the passwords differ", EXIT_USAGE)
    else:
        raise CliError("no password: use --password-stdin or set AI3D_PASSWORD", EXIT_USAGE)
    if not password:
        raise CliError("the password is empty", EXIT_USAGE)
    return password


def read_email(args) -> str:
    """The email: from --email, else a prompt on a terminal."""
    if args.email:
        return args.email
    if sys.stdin.isatty():
        return input("Email: ").strip()
    raise CliError("--email is required", EXIT_USAGE)


# ---------------------------------------------------------------- commands
def cmd_register(client: Client, out: Output, args) -> int:
    """ai3d register."""
    email = read_email(args)
    user = client.register(email, read_password(args, confirm=True), args.name or email.split("@")[0])
    out.result(user, f"registered and logged in as {user['email']} ({user['tier']}, {user['credits']} credits)")
    return EXIT_OK


def cmd_login(client: Client, out: Output, args) -> int:
    """ai3d login."""
    user = client.login(read_email(args), read_password(args, confirm=False))
    out.result(user, f"logged in as {user['email']} ({user['credits']} credits)")
    return EXIT_OK


def cmd_logout(client: Client, out: Output, args) -> int:
    """ai3d logout."""
    was_in = client.logout()
    out.result({"loggedOut": was_in}, "logged out" if was_in else "not logged in")
    return EXIT_OK


def cmd_me(client: Client, out: Output, args) -> int:
    """ai3d me."""
    user = client.me()
    out.result(
        user,
        f"{user['email']} ({user['name']})  role {user['role']}  tier {user['tier']}  "
        f"{user['credits']} credits  id {user['id']}",
    )
    return EXIT_OK


def cmd_webhook_secret(client: Client, out: Output, args) -> int:
    """ai3d webhook-secret."""
    made = client.rotate_webhook_secret()
    grace = f"; the previous one also signs until {made['previousValidUntil']}" if made["previousValidUntil"] else ""
    out.result(made, f"{made['secret']}\n(keep it now: it is not shown again{grace})")
    return EXIT_OK


def cmd_keys_create(client: Client, out: Output, args) -> int:
    """ai3d keys create."""
    made = client.create_api_key(args.name, args.scope or ["read", "jobs"])
    out.result(made, f"{made['key']}\n(keep it now: it is not shown again; scopes {', '.join(made['scopes'])})")
    return EXIT_OK


def cmd_keys_list(client: Client, out: Output, args) -> int:
    """ai3d keys list."""
    items = client.api_keys()
    rows = [
        [k["id"], k["name"], ",".join(k["scopes"]), f"{k['prefix']}...{k['last4']}", k["createdAt"], k["lastUsedAt"]]
        for k in items
    ]
    out.result(items, table(rows, ["ID", "NAME", "SCOPES", "KEY", "CREATED", "LAST USED"]))
    return EXIT_OK


def cmd_keys_revoke(client: Client, out: Output, args) -> int:
    """ai3d keys revoke."""
    client.revoke_api_key(args.key)
    out.result({"revoked": args.key}, f"revoked API key {args.key}")
    return EXIT_OK


def cmd_credits(client: Client, out: Output, args) -> int:
    """ai3d credits."""
    data = client.credits(args.limit)
    rows = [[e["createdAt"], e["type"], f"{e['amount']:+d}", e.get("reason") or ""] for e in data["entries"]]
    out.result(
        data,
        f"{data['balance']} credits ({data['tier']} tier: {data['monthlyCredits']} a month)\n\n"
        + table(rows, ["WHEN", "TYPE", "AMOUNT", "REASON"]),
    )
    return EXIT_OK


def money(cents: int, currency: str = "usd") -> str:
    """Cents as an amount: 2900 -> "29.00 USD"."""
    return f"{cents / 100:.2f} {currency.upper()}"


def describe_subscription(sub: dict) -> str:
    """A few lines about a subscription."""
    if sub["status"] == "none":
        return f"no subscription ({sub['tier']} tier): `ai3d billing plans`, then `ai3d billing subscribe PLAN`"
    lines = [f"{sub['plan'] or '-'} plan, {sub['status']}: {sub['tier']} tier now, {money(sub['priceCents'])} a month"]
    lines.append(f"  period {sub['currentPeriodStart']} .. {sub['currentPeriodEnd']}")
    if sub["nextPlan"]:
        lines.append(f"  moves to {sub['nextPlan']} at the end of the period")
    if sub["cancelAtPeriodEnd"]:
        lines.append("  cancelled: ends with the period (`ai3d billing resume` undoes it)")
    if sub["graceUntil"]:
        lines.append(f"  payment failed: update the card before {sub['graceUntil']} or the account becomes FREE")
    return "\n".join(lines)


def cmd_billing_plans(client: Client, out: Output, args) -> int:
    """ai3d billing plans."""
    plans = client.plans()
    rows = [
        [
            p["tier"],
            money(p["priceCents"], p["currency"]),
            p["monthlyCredits"],
            p["maxConcurrentJobs"],
            human_bytes(p["maxUploadBytes"]),
            f"{p['maxVideoSeconds']} s",
        ]
        for p in plans
    ]
    out.result(plans, table(rows, ["PLAN", "PER MONTH", "CREDITS", "JOBS AT ONCE", "UPLOADS", "VIDEO"]))
    return EXIT_OK


def cmd_billing_subscribe(client: Client, out: Output, args) -> int:
    """ai3d billing subscribe PLAN: a new subscription, or a change of plan when one is live."""
    current = client.subscription()
    if current["status"] in ("active", "trialing", "past_due"):
        sub = client.change_plan(args.plan)
        out.note(f"plan changed to {args.plan}" + (" (from the end of the period)" if sub["nextPlan"] else ""))
    else:
        if not args.payment_method:
            raise CliError("pass --payment-method pm_... (from Stripe.js; in test mode e.g. pm_card_visa)", EXIT_USAGE)
        sub = client.subscribe(args.plan, args.payment_method)
        out.note(f"subscribed to {args.plan}")
    out.result(sub, describe_subscription(sub))
    return EXIT_OK


def cmd_billing_status(client: Client, out: Output, args) -> int:
    """ai3d billing status: the subscription and its invoices."""
    sub, invoices = client.subscription(), client.invoices()
    rows = [
        [i["createdAt"], i["id"], i["tier"] or "", money(i["amountDueCents"], i["currency"] or "usd"), i["status"]]
        for i in invoices
    ]
    text = describe_subscription(sub)
    if rows:
        text += "\n\n" + table(rows, ["DATE", "INVOICE", "PLAN", "AMOUNT", "STATUS"])
    out.result({**sub, "invoices": invoices}, text)
    return EXIT_OK


def cmd_billing_cancel(client: Client, out: Output, args) -> int:
    """ai3d billing cancel [--resume]."""
    sub = client.resume_subscription() if args.resume else client.cancel_subscription()
    out.result(sub, describe_subscription(sub))
    return EXIT_OK


def cmd_projects_list(client: Client, out: Output, args) -> int:
    """ai3d projects list."""
    items = client.projects(args.limit)
    out.result(items, table([[p["id"], p["name"], p["createdAt"]] for p in items], ["ID", "NAME", "CREATED"]))
    return EXIT_OK


def cmd_projects_create(client: Client, out: Output, args) -> int:
    """ai3d projects create."""
    project = client.create_project(args.name, args.description)
    out.result(project, project["id"])
    out.note(f"created project {project['name']!r}")
    return EXIT_OK


def cmd_projects_show(client: Client, out: Output, args) -> int:
    """ai3d projects show."""
    project = client.project(args.project)
    assets = client.assets(args.project)
    lines = [f"{project['name']}  ({project['id']}, created {project['createdAt']})"]
    lines += [f"  {project['description']}"] if project.get("description") else []
    lines += ["", "assets:" if assets else "no assets"] + [f"  {describe_asset(a)}" for a in assets]
    out.result({**project, "assets": assets}, "\n".join(lines))
    return EXIT_OK


def cmd_projects_delete(client: Client, out: Output, args) -> int:
    """ai3d projects delete."""
    client.delete_project(args.project)
    out.result({"deleted": args.project}, f"deleted project {args.project}")
    return EXIT_OK


def cmd_upload(client: Client, out: Output, args) -> int:
    """ai3d upload."""
    asset = upload_file(client, out, args.project, Path(args.file).expanduser(), args.kind, wait=not args.no_wait)
    out.result(asset, describe_asset(asset))
    if asset["status"] == "REJECTED":
        raise CliError(f"{asset['filename']} was rejected: {asset.get('rejectReason', 'no reason given')}", EXIT_FAILED)
    return EXIT_OK


def job_inputs(client: Client, out: Output, args) -> dict:
    """The job's `inputs` from --input, the named --<input> options and --prompt, uploading files first."""
    slots, prompts = JOB_INPUTS[args.type], JOB_PROMPTS[args.type]
    named = {short: getattr(args, short, None) for short in NAMED_INPUTS}
    own = {short for _, short, _ in slots}
    stray = [short for short, value in named.items() if value and short not in own]
    if stray:
        accepted = ", ".join(f"--{short}" for short in own) or "no named inputs"
        raise CliError(f"--{stray[0]} is not an input of {args.type} (it takes {accepted})", EXIT_USAGE)
    if prompts and not args.prompt:
        raise CliError(f"{args.type} needs --prompt", EXIT_USAGE)
    if args.prompt and not prompts:
        raise CliError(f"{args.type} takes no --prompt", EXIT_USAGE)
    if prompts and (not args.prompt.strip() or len(args.prompt) > jobtypes.PROMPT_MAX_CHARS):
        raise CliError(
            f"--prompt must be a non-empty text of at most {jobtypes.PROMPT_MAX_CHARS} characters", EXIT_USAGE
        )
    if not slots and args.input:
        raise CliError(f"{args.type} takes no --input; describe it with --prompt", EXIT_USAGE)
    given = list(args.input)
    values = [named.get(short) or (given.pop(0) if given else None) for _, short, _ in slots]
    if given or None in values:
        names = ", ".join(short for _, short, _ in slots)
        raise CliError(f"{args.type} takes {len(slots)} input(s): {names}", EXIT_USAGE)
    inputs = dict.fromkeys(prompts, args.prompt)
    return {
        **inputs,
        **{
            name: resolve_input(client, out, args.project, value, kinds)
            for (name, _, kinds), value in zip(slots, values)
        },
    }


def cmd_run(client: Client, out: Output, args) -> int:
    """ai3d run."""
    params = parse_params(args.param)
    check_params(args.type, params)
    inputs = job_inputs(client, out, args)
    job = client.create_job(args.type, args.project, inputs, params, args.webhook)
    out.note(f"started {job['type']} job {job['id']} ({job['creditsUsed']} credits)")
    if not args.wait:
        out.result(job, job["id"])
        return EXIT_OK
    try:
        job = follow_job(client, out, job, args.timeout)
    except KeyboardInterrupt:
        out.note(f"\nstopped waiting; the job keeps running: `ai3d jobs show {job['id']}`")
        raise
    if job["status"] == "COMPLETED":
        job = download_outputs(client, out, job, Path(args.out) if args.out else Path("outputs") / job["id"])
    out.result(job, describe_job(job))
    if job["status"] != "COMPLETED":
        error = job.get("error") or {}
        raise CliError(
            f"job {job['id']} {job['status'].lower()}: {error.get('message', 'no reason given')}",
            EXIT_FAILED,
            error.get("code"),
        )
    return EXIT_OK


def cmd_job_types(client: Client, out: Output, args) -> int:
    """ai3d job-types."""
    described = jobtypes.describe()
    if args.type:
        described = {args.type: described[args.type]}
    out.result(described, "\n\n".join(describe_job_type(name, spec) for name, spec in described.items()))
    return EXIT_OK


def cmd_jobs_list(client: Client, out: Output, args) -> int:
    """ai3d jobs list."""
    items = client.jobs(args.project, args.status, args.limit)
    rows = [[j["id"], j["type"], j["status"], j.get("stage") or "", f"{j['progress']}%", j["createdAt"]] for j in items]
    out.result(items, table(rows, ["ID", "TYPE", "STATUS", "STAGE", "PROGRESS", "CREATED"]))
    return EXIT_OK


def cmd_jobs_show(client: Client, out: Output, args) -> int:
    """ai3d jobs show."""
    job = client.job(args.job)
    out.result(job, describe_job(job))
    return EXIT_OK


def cmd_jobs_cancel(client: Client, out: Output, args) -> int:
    """ai3d jobs cancel."""
    job = client.cancel_job(args.job)
    out.result(job, f"cancelled job {job['id']} ({job['creditsUsed']} credits returned)")
    return EXIT_OK


def cmd_download(client: Client, out: Output, args) -> int:
    """ai3d download."""
    asset = client.asset(args.asset)
    if asset["status"] != "READY":
        raise CliError(f"asset {asset['id']} is {asset['status']}, not READY", EXIT_FAILED)
    dest = Path(args.out or ".") / (os.path.basename(asset["filename"]) or asset["id"])
    with out.bar(f"download {dest.name}", asset["sizeBytes"], show_bytes=True) as bar:
        client.download(asset["download"]["url"], dest, on_read=bar.advance)
    out.result({**asset, "path": str(dest)}, str(dest))
    return EXIT_OK


# ---------------------------------------------------------------- parsing
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""

    def global_options(target: argparse.ArgumentParser, suppress: bool) -> None:
        target.add_argument(
            "--api",
            default=argparse.SUPPRESS if suppress else None,
            help=f"API URL (default $AI3D_API or {DEFAULT_API})",
        )
        target.add_argument(
            "--api-key",
            default=argparse.SUPPRESS if suppress else None,
            help="authenticate with this API key instead of the saved session (default $AI3D_API_KEY)",
        )
        target.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS if suppress else False,
            help="machine-readable output on stdout, no progress bars",
        )

    # Accepted before and after the command: each command's copy only sets them when given.
    common = argparse.ArgumentParser(add_help=False)
    global_options(common, suppress=True)
    parser = argparse.ArgumentParser(
        prog="ai3d",
        description="The AI 3D platform from the command line.",
        epilog="exit codes: 0 ok, 1 job failed or asset rejected, 2 usage, 3 auth, "
        "4 not found/forbidden, 5 server unreachable",
    )
    global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(group, name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    for name, handler, help_text in (
        ("register", cmd_register, "create an account and log in"),
        ("login", cmd_login, "log in (the session is saved for this API URL)"),
    ):
        sub = command(commands, name, handler, help_text)
        sub.add_argument("--email")
        sub.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from stdin (else $AI3D_PASSWORD, else a prompt)",
        )
        if name == "register":
            sub.add_argument("--name", help="display name (default: the email's local part)")
    command(commands, "logout", cmd_logout, "end the saved session")
    command(commands, "me", cmd_me, "show your account")
    command(
        commands, "webhook-secret", cmd_webhook_secret, "make a new secret that signs your job webhooks (shown once)"
    )
    command(commands, "credits", cmd_credits, "show your balance and credit history").add_argument("--limit", type=int)

    projects = commands.add_parser("projects", help="list, create, show or delete projects").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    command(projects, "list", cmd_projects_list, "your projects").add_argument("--limit", type=int)
    sub = command(projects, "create", cmd_projects_create, "create a project (prints its id)")
    sub.add_argument("name")
    sub.add_argument("--description")
    command(projects, "show", cmd_projects_show, "a project and its assets").add_argument("project")
    command(projects, "delete", cmd_projects_delete, "delete a project, its assets and running jobs").add_argument(
        "project"
    )

    sub = command(commands, "upload", cmd_upload, "upload a file as an asset and wait until it is checked")
    sub.add_argument("project")
    sub.add_argument("file")
    sub.add_argument(
        "--kind",
        choices=tuple(KIND_EXTENSIONS),
        help="override the kind guessed from the extension (e.g. ANIMATION for an animated glb/fbx)",
    )
    sub.add_argument("--no-wait", action="store_true", help="do not wait for the asset to be checked")

    sub = command(commands, "run", cmd_run, "start a job; with --wait follow it and download its outputs")
    sub.add_argument("type", type=job_type, metavar="TYPE", help=", ".join(jobtypes.JOB_TYPES))
    sub.add_argument("--project", required=True)
    sub.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="FILE_OR_ASSET",
        help="a file to upload or an asset id, in the type's input order (see `ai3d job-types`)",
    )
    for short in NAMED_INPUTS:
        users = [name for name, slots in JOB_INPUTS.items() if any(s == short for _, s, _ in slots)]
        sub.add_argument(f"--{short}", metavar="FILE_OR_ASSET", help=f"the {short} input of {', '.join(users)}")
    sub.add_argument("--prompt", help=f"the description for {', '.join(t for t, p in JOB_PROMPTS.items() if p)}")
    sub.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a job parameter (checked before anything is uploaded; `ai3d job-types TYPE` lists them); "
        "VALUE is parsed as JSON when it can be (numbers, true/false, lists)",
    )
    sub.add_argument("--webhook", metavar="URL", help="POSTed the job's final state when it ends")
    sub.add_argument("--wait", action="store_true", help="follow the job and download its outputs")
    sub.add_argument("--out", metavar="DIR", help="where outputs go (default ./outputs/<job-id>/)")
    sub.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after this long (exit 1)")

    sub = command(commands, "job-types", cmd_job_types, "the job types: inputs, params (bounds, defaults) and costs")
    sub.add_argument("type", type=job_type, nargs="?", metavar="TYPE", help="only this type")

    api_keys = commands.add_parser("keys", help="create, list or revoke API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    sub = command(api_keys, "create", cmd_keys_create, "create an API key (printed once)")
    sub.add_argument("name")
    sub.add_argument(
        "--scope", action="append", choices=("read", "jobs", "admin"), help="repeatable; default: read and jobs"
    )
    command(api_keys, "list", cmd_keys_list, "your API keys (never their values)")
    command(api_keys, "revoke", cmd_keys_revoke, "revoke an API key at once").add_argument("key")

    jobs = commands.add_parser("jobs", help="list, show or cancel jobs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    sub = command(jobs, "list", cmd_jobs_list, "your jobs, newest first")
    sub.add_argument("--project")
    sub.add_argument("--status", type=str.upper, choices=JOB_STATUSES)
    sub.add_argument("--limit", type=int)
    command(jobs, "show", cmd_jobs_show, "a job's status, progress and outputs").add_argument("job")
    command(jobs, "cancel", cmd_jobs_cancel, "cancel a running job (its credits are returned)").add_argument("job")

    billing = commands.add_parser("billing", help="plans, subscribe, status, cancel").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    command(billing, "plans", cmd_billing_plans, "the plans: price, monthly credits and limits")
    sub = command(billing, "subscribe", cmd_billing_subscribe, "subscribe to a paid plan, or change to another")
    sub.add_argument("plan", type=str.upper, metavar="PLAN")
    sub.add_argument("--payment-method", metavar="PM_ID", help="a Stripe PaymentMethod id (test mode: pm_card_visa)")
    command(billing, "status", cmd_billing_status, "your subscription and invoices")
    sub = command(billing, "cancel", cmd_billing_cancel, "cancel at the end of the paid period")
    sub.add_argument("--resume", action="store_true", help="undo a cancellation before the period ends")

    sub = command(commands, "download", cmd_download, "download an asset (saved under its own name)")
    sub.add_argument("asset")
    sub.add_argument("--out", metavar="DIR", help="directory to save into (default: the current one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failed, 2 usage, 3 auth, 4 not found, 5 unreachable)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    api = args.api or os.environ.get("AI3D_API") or DEFAULT_API
    out = Output(args.json)
    try:
        api_key = args.api_key or os.environ.get("AI3D_API_KEY") or None
        return args.handler(Client(api, TokenStore(), api_key=api_key), out, args)
    except CliError as exc:
        print(f"ai3d: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ai3d: interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
