"""Request and response models of every route, each route declared (`operation`) next to its models.

Build time only (pydantic is a dev requirement): the models write chalicelib/api/openapi.json (`make openapi`), which
the API serves and validates requests with (chalicelib/api/spec.py, schema.py); a unit test fails while that file
differs from what the models write, another while the validator's verdicts differ from the models'.

Request bodies are strict (no type coercion, no unknown fields, no NaN/Infinity); the domain modules keep their own
rules (password policy, upload formats, param bounds in the contract) and the models here describe what reaches them.
A route's answers are described by the same kind of model (unknown fields forbidden), which the tests hold every real
answer to. Adding a route: register it with app.py's `route()` (it serves /v1 too), write its models here, then one
`operation(...)` line, then `make openapi`; a route missing from the document answers 500 and fails
tests/unit/platform/test_openapi.py.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel

from chalicelib import passwords, settings
from chalicelib.api.registry import operation
from chalicelib.contract import jobtypes, statuses
from chalicelib.contract.formats import UPLOADS

NAME_MAX = 100  # a user's or a project's name (accounts.NAME_MAX, projects)
EMAIL_MAX = 254
PASSWORD_MAX = 1024  # characters; the password policy caps the UTF-8 bytes lower
TOKEN_MAX = 4096
ID_MAX = 128
CREDIT_ADJUSTMENT_MAX = 1_000_000_000
SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON client reads exactly


# ---------------------------------------------------------------- bases
class Body(BaseModel):
    """A JSON request body: strict types, no unknown fields, finite numbers. `error_codes` maps a top-level field to
    the error code a wrong value in it answers (VALIDATION_ERROR otherwise)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)
    error_codes: ClassVar[dict[str, str]] = {}


class Query(BaseModel):
    """Query string parameters: text converted to the declared types, no unknown names."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)
    error_codes: ClassVar[dict[str, str]] = {}


class Out(BaseModel):
    """A response shape: every field it may carry is listed. Built only when the document is (never to answer)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message for people, and sometimes more (balance, cost, field...)."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    code: str
    message: str


class Error(Out):
    """Every error answer: {"error": {"code", "message", ...}}."""

    error: ErrorDetail


Limit = Annotated[int, Field(ge=1, le=settings.PAGE_SIZE_MAX, description="items per page")]
NextToken = Annotated[
    str, Field(min_length=1, max_length=TOKEN_MAX, description="the `nextToken` of the previous page, as given")
]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]


class Page(Query):
    """A page of a listing."""

    error_codes: ClassVar[dict[str, str]] = {"limit": "INVALID_LIMIT", "nextToken": "INVALID_CURSOR"}
    limit: Limit | None = None
    nextToken: NextToken | None = None


# ---------------------------------------------------------------- health and the contract
class Check(BaseModel):
    """One dependency's or worker kind's state."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    status: Literal["ok", "error"]
    message: str | None = None


class Health(Out):
    """Every dependency and worker kind: ok, or what is wrong."""

    status: Literal["ok", "degraded"]
    checks: dict[str, Check]


class ParamInfo(Out):
    """A job param as the contract declares it."""

    type: Literal["int", "float", "bool", "str", "list", "ratios"]
    doc: str
    default: JsonValue = None
    min: float | None = None
    max: float | None = None
    choices: list[JsonValue] | None = None


class JobTypeInfo(Out):
    """A job type: its inputs (field -> accepted asset kinds, "text" for a prompt), params, cost and stages."""

    inputs: dict[str, list[str]]
    params: dict[str, ParamInfo]
    requiredParams: list[str]
    oneOfParams: list[str]
    cost: int
    costPer10s: int | None = None
    stages: list[str]


class JobTypes(RootModel[dict[str, JobTypeInfo]]):
    """Every job type by name."""

    model_config = ConfigDict(defer_build=True)


class OpenApiDocument(RootModel[dict[str, JsonValue]]):
    """This document."""

    model_config = ConfigDict(defer_build=True)


operation("GET", "/health", {200: Health, 503: Health}, tag="platform")
operation("GET", "/job-types", {200: JobTypes}, tag="platform")
operation("GET", "/openapi.json", {200: OpenApiDocument}, tag="platform")


class LiveEndpoint(Out):
    """Where to connect for live job progress (the protocol is in docs/api.md); null when no WebSocket API runs."""

    url: str | None


operation("GET", "/websocket", {200: LiveEndpoint}, tag="platform")


# ---------------------------------------------------------------- accounts
class WebhookSecretInfo(Out):
    """When the webhook signing secret was made (never the secret)."""

    createdAt: str


class User(Out):
    """An account (never its password hash)."""

    id: str
    email: str
    name: str
    role: Literal[statuses.ROLES]  # type: ignore[valid-type]
    tier: str
    credits: int
    disabled: bool
    createdAt: str
    webhookSecret: WebhookSecretInfo | None


class TokenPair(Out):
    """A new access token (Bearer, `expiresIn` seconds) and the refresh token that renews it once."""

    accessToken: str
    refreshToken: str
    expiresIn: int


class Session(TokenPair):
    """A new session and its account."""

    user: User


class UserChange(Out):
    """The account after a change; a new token pair after a password change (the other sessions end)."""

    user: User
    accessToken: str | None = None
    refreshToken: str | None = None
    expiresIn: int | None = None


class Register(Body):
    """Sign up."""

    error_codes: ClassVar[dict[str, str]] = {"email": "INVALID_EMAIL"}
    email: str = Field(max_length=EMAIL_MAX, json_schema_extra={"format": "email"})
    password: str = Field(
        max_length=PASSWORD_MAX,
        description=f"at least {settings.PASSWORD_MIN_LENGTH} characters and at most {passwords.MAX_BYTES} bytes "
        "(WEAK_PASSWORD, PASSWORD_TOO_LONG)",
    )
    name: str = Field(max_length=NAME_MAX)


class Login(Body):
    """Log in."""

    error_codes: ClassVar[dict[str, str]] = {"email": "INVALID_EMAIL"}
    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(max_length=PASSWORD_MAX)


class RefreshTokenBody(Body):
    """A refresh token to rotate or revoke."""

    refreshToken: str = Field(min_length=1, max_length=TOKEN_MAX)


class MeUpdate(Body):
    """Change the name and/or the password (newPassword with currentPassword)."""

    name: str | None = Field(None, max_length=NAME_MAX)
    newPassword: str | None = Field(None, max_length=PASSWORD_MAX)
    currentPassword: str | None = Field(None, max_length=PASSWORD_MAX)


class Deletion(Out):
    """The account is being erased."""

    id: str
    status: Literal["DELETING"]


class WebhookSecret(Out):
    """A new webhook signing secret, shown only in this answer; the previous one signs until `previousValidUntil`."""

    secret: str
    createdAt: str
    previousValidUntil: str | None


class AdminUserUpdate(Body):
    """Admin: role, tier, disabled, and a credit adjustment with its reason."""

    role: Literal[statuses.ROLES] | None = None  # type: ignore[valid-type]
    tier: Literal[tuple(settings.TIERS)] | None = None  # type: ignore[valid-type]
    disabled: bool | None = None
    creditAdjustment: int | None = Field(None, ge=-CREDIT_ADJUSTMENT_MAX, le=CREDIT_ADJUSTMENT_MAX)
    reason: str | None = Field(None, max_length=500)


class UserPage(Out):
    """Users, newest first."""

    items: list[User]
    nextToken: str | None


class MetricsQuery(Query):
    """The period's start."""

    error_codes: ClassVar[dict[str, str]] = {"since": "INVALID_SINCE"}
    since: str | None = Field(None, max_length=64, description="ISO-8601 date or time (default: 30 days ago)")


class CreditTotals(Out):
    """Credits moved by the period's jobs."""

    spent: int
    refunded: int
    held: int


class BillingMetrics(Out):
    """Subscriptions: monthly recurring revenue, live ones by tier, and churn over the period."""

    mrrCents: int
    currency: str
    activeByTier: dict[str, int]
    started: int
    churned: int
    churnRate: float


class Metrics(Out):
    """Jobs by status and their credits since a date, the number of users, and billing."""

    since: str
    jobs: dict[str, int]
    credits: CreditTotals
    users: int
    billing: BillingMetrics


operation("POST", "/auth/register", {201: Session}, request=Register, tag="accounts")
operation("POST", "/auth/login", {200: Session}, request=Login, tag="accounts")
operation("POST", "/auth/refresh", {200: TokenPair}, request=RefreshTokenBody, tag="accounts")
operation("POST", "/auth/logout", {204: None}, request=RefreshTokenBody, tag="accounts")
operation("POST", "/auth/logout-all", {204: None}, tag="accounts")
operation("GET", "/users/me", {200: User}, tag="accounts")
operation("PATCH", "/users/me", {200: UserChange}, request=MeUpdate, tag="accounts")
operation("DELETE", "/users/me", {202: Deletion}, tag="accounts")
operation("POST", "/users/me/webhook-secret", {201: WebhookSecret}, tag="accounts")
operation("GET", "/admin/users", {200: UserPage}, query=Page, tag="admin")
operation("PATCH", "/admin/users/{user_id}", {200: User}, request=AdminUserUpdate, tag="admin")
operation("GET", "/admin/metrics", {200: Metrics}, query=MetricsQuery, tag="admin")


# ---------------------------------------------------------------- API keys
class ApiKeyCreate(Body):
    """A new key's name and scopes: read (GET only), jobs (start and cancel jobs, upload), admin (admins only)."""

    error_codes: ClassVar[dict[str, str]] = {"name": "INVALID_NAME", "scopes": "INVALID_SCOPES"}
    name: str = Field(min_length=1, max_length=settings.API_KEY_NAME_MAX)
    scopes: list[Literal["read", "jobs", "admin"]] = Field(min_length=1, max_length=3)


class ApiKey(Out):
    """An API key as listed: never its value, only its prefix and last four characters."""

    id: str
    name: str
    scopes: list[str]
    prefix: str
    last4: str
    createdAt: str
    lastUsedAt: str | None


class NewApiKey(ApiKey):
    """A key just made, with its value (`key`), which is never shown again."""

    key: str


class ApiKeyList(Out):
    """The caller's keys, oldest first."""

    items: list[ApiKey]


operation("POST", "/api-keys", {201: NewApiKey}, request=ApiKeyCreate, tag="api-keys")
operation("GET", "/api-keys", {200: ApiKeyList}, tag="api-keys")
operation("DELETE", "/api-keys/{key_id}", {204: None}, tag="api-keys")


# ---------------------------------------------------------------- projects and assets
class Project(Out):
    """A project: a folder of assets and jobs."""

    id: str
    name: str
    description: str
    ownerId: str
    createdAt: str
    updatedAt: str


class ProjectCreate(Body):
    """A new project."""

    error_codes: ClassVar[dict[str, str]] = {"name": "INVALID_NAME", "description": "INVALID_DESCRIPTION"}
    name: str = Field(max_length=NAME_MAX)
    description: str | None = Field(None, max_length=2000)


class ProjectUpdate(Body):
    """Rename and/or re-describe a project."""

    error_codes: ClassVar[dict[str, str]] = {"name": "INVALID_NAME", "description": "INVALID_DESCRIPTION"}
    name: str | None = Field(None, max_length=NAME_MAX)
    description: str | None = Field(None, max_length=2000)


class ProjectPage(Out):
    """Projects, newest first."""

    items: list[Project]
    nextToken: str | None


class Link(Out):
    """A signed URL and when it stops working."""

    url: str
    expiresAt: str


class Asset(Out):
    """An uploaded file or a job's output."""

    id: str
    projectId: str
    kind: Literal[statuses.ASSET_KINDS]  # type: ignore[valid-type]
    filename: str
    contentType: str
    format: str
    sizeBytes: int
    status: Literal[statuses.ASSET_STATUSES]  # type: ignore[valid-type]
    metadata: dict[str, JsonValue]
    createdAt: str
    updatedAt: str
    rejectReason: str | None = None
    rejectCode: str | None = None
    sourceJobId: str | None = None
    role: str | None = None
    download: Link | None = None


class AssetCreate(Body):
    """Register an upload: its kind, file name, content type and exact size."""

    error_codes: ClassVar[dict[str, str]] = {
        "kind": "INVALID_KIND",
        "filename": "INVALID_FILENAME",
        "contentType": "INVALID_CONTENT_TYPE",
        "sizeBytes": "INVALID_SIZE",
    }
    kind: Literal[tuple(UPLOADS)]  # type: ignore[valid-type]
    filename: str = Field(min_length=1, max_length=255)
    contentType: str = Field(min_length=1, max_length=255)
    sizeBytes: int = Field(gt=0, le=SAFE_INTEGER, description="exact bytes; the tier caps it (413)")


class UploadForm(Out):
    """A presigned POST: send `fields` and then the file as `file` to `url` before `expiresAt`."""

    url: str
    fields: dict[str, str]
    expiresAt: str


class Upload(Out):
    """The registered asset (PENDING_UPLOAD) and where to send its bytes."""

    asset: Asset
    upload: UploadForm


class AssetPage(Out):
    """A project's assets, newest first."""

    items: list[Asset]
    nextToken: str | None


operation("POST", "/projects", {201: Project}, request=ProjectCreate, tag="projects")
operation("GET", "/projects", {200: ProjectPage}, query=Page, tag="projects")
operation("GET", "/projects/{project_id}", {200: Project}, tag="projects")
operation("PATCH", "/projects/{project_id}", {200: Project}, request=ProjectUpdate, tag="projects")
operation("DELETE", "/projects/{project_id}", {204: None}, tag="projects")
operation("POST", "/projects/{project_id}/assets", {201: Upload}, request=AssetCreate, tag="assets")
operation("GET", "/projects/{project_id}/assets", {200: AssetPage}, query=Page, tag="assets")
operation("GET", "/assets/{asset_id}", {200: Asset}, tag="assets")
operation("DELETE", "/assets/{asset_id}", {204: None}, tag="assets")


# ---------------------------------------------------------------- jobs and credits
def _one_variant_per_type(schema: dict[str, Any]) -> None:
    """The document describes a POST /jobs body per job type, from the contract (inputs, params and their bounds)."""
    schema.clear()
    schema.update(
        title="JobCreate",
        description="Start a job: one of the job types, with its inputs and params",
        oneOf=[jobtypes.request_schema(name) for name in jobtypes.JOB_TYPES],
    )


class JobCreate(Body):
    """Start a job. The contract (chalicelib/contract/jobtypes.py) checks inputs and params per type."""

    model_config = ConfigDict(json_schema_extra=_one_variant_per_type)
    error_codes: ClassVar[dict[str, str]] = {
        "type": "INVALID_TYPE",
        "projectId": "INVALID_PROJECT",
        "inputs": "INVALID_INPUTS",
        "params": "INVALID_PARAMS",
        "webhookUrl": "INVALID_WEBHOOK_URL",
    }
    type: Literal[tuple(jobtypes.JOB_TYPES)]  # type: ignore[valid-type]
    projectId: Id
    inputs: dict[str, str] = Field(default_factory=dict)
    params: dict[str, JsonValue] | None = None
    webhookUrl: str | None = Field(None, max_length=2000)


class JobError(Out):
    """Why a job failed or was cancelled (its credits were refunded)."""

    code: str
    message: str


class QueuePlace(Out):
    """While a job's task waits for a worker: its place in line and an estimated start."""

    worker: str
    position: int
    ahead: int
    workersAlive: int
    estimatedStartSeconds: int | None
    waitingSeconds: float


class JobOutput(Out):
    """A file a job made (with a signed download once the job COMPLETED)."""

    assetId: str
    role: str | None
    kind: str
    format: str
    filename: str
    sizeBytes: int
    download: Link | None = None


class Job(Out):
    """A paid unit of work: its status, stage and progress, and its outputs."""

    id: str
    projectId: str
    type: str
    status: Literal[statuses.JOB_STATUSES]  # type: ignore[valid-type]
    stage: str | None
    progress: int
    progressMessage: str | None
    creditsUsed: int
    inputs: dict[str, JsonValue]
    params: dict[str, JsonValue]
    result: dict[str, JsonValue]
    error: JobError | None
    createdAt: str
    updatedAt: str
    startedAt: str | None
    finishedAt: str | None
    webhookUrl: str | None
    queue: QueuePlace | None
    outputs: list[JobOutput]


class JobsQuery(Page):
    """A project's jobs (projectId) or all of the caller's, optionally by status."""

    error_codes: ClassVar[dict[str, str]] = {**Page.error_codes, "status": "INVALID_STATUS"}
    projectId: Id | None = None
    status: Literal[statuses.JOB_STATUSES] | None = None  # type: ignore[valid-type]


class JobPage(Out):
    """Jobs, newest first."""

    items: list[Job]
    nextToken: str | None


class LedgerEntry(Out):
    """One change of the balance."""

    id: str
    type: Literal[statuses.LEDGER_TYPES]  # type: ignore[valid-type]
    amount: int
    jobId: str | None
    reason: str | None
    createdAt: str


class Ledger(Out):
    """The balance, the tier's monthly grant, and the ledger, newest first."""

    balance: int
    tier: str
    monthlyCredits: int
    entries: list[LedgerEntry]
    nextToken: str | None


operation("POST", "/jobs", {202: Job}, request=JobCreate, tag="jobs")
operation("GET", "/jobs", {200: JobPage}, query=JobsQuery, tag="jobs")
operation("GET", "/jobs/{job_id}", {200: Job}, tag="jobs")
operation("POST", "/jobs/{job_id}/cancel", {200: Job}, tag="jobs")
operation("GET", "/users/me/credits", {200: Ledger}, query=Page, tag="credits")


# ---------------------------------------------------------------- billing (Stripe)
class Plan(Out):
    """A tier: its monthly price (0 for FREE) and limits."""

    tier: str
    priceCents: int
    currency: str
    interval: Literal["month"]
    monthlyCredits: int
    maxConcurrentJobs: int
    maxUploadBytes: int
    maxVideoSeconds: int


class Plans(Out):
    """Every tier."""

    plans: list[Plan]


class SubscriptionStart(Body):
    """A paid plan and a card: a Stripe PaymentMethod id from Stripe.js (test ids such as pm_card_visa in test mode)."""

    error_codes: ClassVar[dict[str, str]] = {"plan": "INVALID_PLAN", "paymentMethod": "INVALID_PAYMENT_METHOD"}
    plan: str = Field(max_length=32, description="STARTER, PRO or ENTERPRISE")
    paymentMethod: str = Field(max_length=255, pattern="^pm_")


class SubscriptionChange(Body):
    """The plan to move to: dearer now (prorated), cheaper at the end of the period."""

    error_codes: ClassVar[dict[str, str]] = {"plan": "INVALID_PLAN"}
    plan: str = Field(max_length=32, description="STARTER, PRO or ENTERPRISE")


class Subscription(Out):
    """The caller's subscription (`status` "none" before the first one; the other fields then absent)."""

    status: str
    tier: str
    plan: str | None
    nextPlan: str | None
    cancelAtPeriodEnd: bool
    id: str | None = None
    priceCents: int | None = None
    currentPeriodStart: str | None = None
    currentPeriodEnd: str | None = None
    pastDueSince: str | None = None
    graceUntil: str | None = None
    endedAt: str | None = None


class Invoice(Out):
    """A Stripe invoice of the caller's, as Stripe has it."""

    id: str
    status: str | None
    tier: str | None
    amountDueCents: int
    amountPaidCents: int
    currency: str | None
    createdAt: str | None
    periodStart: str | None
    periodEnd: str | None


class Invoices(Out):
    """The caller's invoices, newest first."""

    invoices: list[Invoice]


class WebhookReceipt(Out):
    """A Stripe event taken (or one seen before: `duplicate`)."""

    received: bool
    duplicate: bool


operation("GET", "/billing/plans", {200: Plans}, tag="billing")
operation("GET", "/billing/subscription", {200: Subscription}, tag="billing")
operation("POST", "/billing/subscription", {201: Subscription}, request=SubscriptionStart, tag="billing")
operation("PATCH", "/billing/subscription", {200: Subscription}, request=SubscriptionChange, tag="billing")
operation("DELETE", "/billing/subscription", {200: Subscription}, tag="billing")
operation("POST", "/billing/subscription/resume", {200: Subscription}, tag="billing")
operation("GET", "/billing/invoices", {200: Invoices}, tag="billing")
# the body is Stripe's event, read raw and authenticated by its Stripe-Signature header (chalicelib/billing/webhook.py)
operation("POST", "/billing/webhook", {200: WebhookReceipt}, tag="billing", raw_body=True)
