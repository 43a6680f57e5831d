"""All configuration, read once from the environment, and the subscription tiers."""

from __future__ import annotations

import os
from typing import NamedTuple

from chalicelib.contract import api_version

# ---------------------------------------------------------------- deployment
# The environment infrastructure/template.yaml gives every function (Globals) and the local deployer gives every
# process; the defaults name the local stage's resources.
STAGE = os.environ.get("STAGE", "local")
TABLE_NAME = os.environ.get("TABLE_NAME", f"ai3d-{STAGE}-main")
ASSETS_BUCKET = os.environ.get("ASSETS_BUCKET", f"ai3d-{STAGE}-assets")
UPLOAD_EVENTS_QUEUE_URL = os.environ.get("UPLOAD_EVENTS_QUEUE_URL", "")
GPU_QUEUE_URL = os.environ.get("GPU_QUEUE_URL", "")
BLENDER_QUEUE_URL = os.environ.get("BLENDER_QUEUE_URL", "")
JOB_EVENTS_QUEUE_URL = os.environ.get("JOB_EVENTS_QUEUE_URL", "")
PIPELINE_STATE_MACHINE_ARN = os.environ.get("PIPELINE_STATE_MACHINE_ARN", "")
# Event sources name their queue when app.py is imported (by `chalice package` too): names, never split from URLs.
UPLOAD_EVENTS_QUEUE_NAME = os.environ.get("UPLOAD_EVENTS_QUEUE_NAME", f"ai3d-{STAGE}-upload-events")
JOB_EVENTS_QUEUE_NAME = os.environ.get("JOB_EVENTS_QUEUE_NAME", f"ai3d-{STAGE}-job-events")
RESOURCE_SETTINGS = (
    "STAGE",
    "TABLE_NAME",
    "ASSETS_BUCKET",
    "UPLOAD_EVENTS_QUEUE_URL",
    "GPU_QUEUE_URL",
    "BLENDER_QUEUE_URL",
    "JOB_EVENTS_QUEUE_URL",
    "PIPELINE_STATE_MACHINE_ARN",
    "UPLOAD_EVENTS_QUEUE_NAME",
    "JOB_EVENTS_QUEUE_NAME",
)

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
# Set on AWS by the Lambda runtime; absent locally. Used to refuse a default secret in the cloud.
ON_AWS = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not os.environ.get("AWS_ENDPOINT_URL")

# ---------------------------------------------------------------- secrets (chalicelib/secrets.py)
# On AWS: Secrets Manager secrets the template generates, each given only to the functions that use it.
JWT_SECRET_ARN = os.environ.get("JWT_SECRET_ARN", "")
WEBHOOK_SECRET_ARN = os.environ.get("WEBHOOK_SECRET_ARN", "")
# Locally: from the environment, which the local stack fills from the secrets it generates in its state dir at its
# first start (devstack/state.py). There is no default: a process given no secret refuses to sign or verify.
JWT_SECRET = os.environ.get("JWT_SECRET", "")
WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET", "")  # derives each user's webhook signing secret (webhooks.py)
# Stripe (chalicelib/billing/): the API key and the webhook signing secret, from Secrets Manager on AWS, from the
# environment locally (the local stack generates both and gives the key to its Stripe emulator).
STRIPE_SECRET_ARN = os.environ.get("STRIPE_SECRET_ARN", "")  # a JSON secret: {"apiKey": ..., "webhookSecret": ...}
STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
SECRET_MIN_LENGTH = 32
SECRET_CACHE_SECONDS = 300
WEBHOOK_SECRET_GRACE_SECONDS = 24 * 3600  # after a rotation the previous webhook secret still signs this long

# ---------------------------------------------------------------- auth
JWT_ISSUER = os.environ.get("JWT_ISSUER", "ai3d")
JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "ai3d-api")
JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_SECONDS = 15 * 60
# Revocation (chalicelib/sessions.py) takes effect within the sum of these: the authorizer's own cache, and API
# Gateway's cache of the authorizer's verdict.
AUTH_CACHE_SECONDS = 15
AUTHORIZER_TTL_SECONDS = 15
REFRESH_TOKEN_SECONDS = 7 * 24 * 3600
BCRYPT_ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))
# Failed logins slow whoever fails, never lock the owner out (docs/accounts.md, OWASP ASVS V2.2.1): per email and
# source address the first few failures are free, then each must wait 1, 2, 4... s after the last (up to the maximum);
# the same per address over all emails with more free failures; per email over all addresses at most 100 failures
# an hour, beyond which only addresses the account logged in from before may still try.
LOGIN_FREE_FAILURES = 3
LOGIN_ADDRESS_FREE_FAILURES = 20
LOGIN_MAX_DELAY_SECONDS = 15 * 60
LOGIN_FAILURE_MEMORY_SECONDS = 24 * 3600  # a counter is forgotten this long after its last failure
LOGIN_ACCOUNT_MAX_FAILURES = 100
LOGIN_ACCOUNT_WINDOW_SECONDS = 3600
KNOWN_ADDRESS_SECONDS = 90 * 24 * 3600  # an address the account logged in from stays known this long
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60  # the window of the sign-up limit per address
PASSWORD_MIN_LENGTH = 10
REGISTER_MAX_PER_ADDRESS = int(
    os.environ.get("REGISTER_MAX_PER_ADDRESS", "20")
)  # sign-ups per source address per window

# API keys (chalicelib/apikeys.py): each key may make API_KEY_RATE_LIMIT requests per fixed window of
# API_KEY_RATE_WINDOW_SECONDS; its lastUsedAt is written at most once per window.
API_KEY_RATE_LIMIT = int(os.environ.get("API_KEY_RATE_LIMIT", "120"))
API_KEY_RATE_WINDOW_SECONDS = int(os.environ.get("API_KEY_RATE_WINDOW_SECONDS", "60"))
API_KEYS_PER_USER = 20
API_KEY_NAME_MAX = 100
# Idempotency-Key (chalicelib/idempotency.py): a key's first response is replayed this long; a second request with a
# key still in progress waits up to IDEMPOTENCY_WAIT_SECONDS for it, else gets 409; a claim whose request died is
# taken over after IDEMPOTENCY_LOCK_SECONDS.
IDEMPOTENCY_SECONDS = 24 * 3600
IDEMPOTENCY_WAIT_SECONDS = 5.0
IDEMPOTENCY_LOCK_SECONDS = 60
IDEMPOTENCY_KEY_MAX = 255

# Live progress over WebSocket (chalicelib/live.py). WEBSOCKET_URL is where clients connect (GET /websocket tells
# them); WEBSOCKET_CALLBACK_URL is API Gateway's management endpoint that pushes to a connection (locally both are
# devstack/ws.py). A connection lives at most CONNECTION_SECONDS (API Gateway's own limit is 2 h).
WEBSOCKET_URL = os.environ.get("WEBSOCKET_URL", "")
WEBSOCKET_CALLBACK_URL = os.environ.get("WEBSOCKET_CALLBACK_URL", "")
CONNECTION_SECONDS = 2 * 3600
CONNECTION_MAX_JOBS = 100  # jobs one connection may follow
CONNECTIONS_PER_USER = 20  # authenticated connections at once (each costs the fan-out one push)
WEBSOCKET_MESSAGE_MAX = 4096  # bytes of one client message

# ---------------------------------------------------------------- uploads and downloads
UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 5 * 60
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "4"))
# Webhooks may target loopback only locally, where this is on unless WEBHOOK_ALLOW_LOOPBACK=0; never on AWS.
WEBHOOK_ALLOW_LOOPBACK = not ON_AWS and os.environ.get("WEBHOOK_ALLOW_LOOPBACK", "1") == "1"
WORKER_STALE_SECONDS = 60  # /health reports a worker down after this long without a heartbeat
WORKER_LEASE_SECONDS = float(os.environ.get("WORKER_LEASE_SECONDS", "60"))  # as the workers hold their tasks
TASK_LOST_SECONDS = 2 * WORKER_LEASE_SECONDS + 60  # free this long while a worker of its kind idles: the task is lost
# a job with no write for this long is checked against Step Functions (once per period)
SWEEP_RECHECK_SECONDS = float(os.environ.get("SWEEP_RECHECK_SECONDS", "900"))


class Tier(NamedTuple):
    """What a subscription tier gets each month and may do at once."""

    monthly_credits: int
    max_concurrent_jobs: int
    max_upload_bytes: int
    max_video_seconds: int


MB = 1024 * 1024
TIERS: dict[str, Tier] = {
    "FREE": Tier(monthly_credits=100, max_concurrent_jobs=2, max_upload_bytes=50 * MB, max_video_seconds=30),
    "STARTER": Tier(monthly_credits=500, max_concurrent_jobs=3, max_upload_bytes=200 * MB, max_video_seconds=120),
    "PRO": Tier(monthly_credits=2000, max_concurrent_jobs=5, max_upload_bytes=1024 * MB, max_video_seconds=600),
    "ENTERPRISE": Tier(
        monthly_credits=10000, max_concurrent_jobs=20, max_upload_bytes=4096 * MB, max_video_seconds=3600
    ),
}
DEFAULT_TIER = "FREE"

# ---------------------------------------------------------------- billing (chalicelib/billing/)
# Where the Stripe SDK sends its calls: Stripe itself on AWS, the local stack's Stripe emulator locally.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300  # a signed webhook older (or newer) than this is refused (replay window)
STRIPE_TIMEOUT_SECONDS = 20
# A past-due subscription keeps its tier this long after the first failed payment, then the account is FREE.
BILLING_GRACE_SECONDS = float(os.environ.get("BILLING_GRACE_SECONDS", str(7 * 24 * 3600)))
BILLING_CURRENCY = "usd"
# The paid tiers' monthly prices (cents); the deploy step creates a Stripe product and monthly plan for each.
PLAN_PRICES_CENTS: dict[str, int] = {"STARTER": 900, "PRO": 2900, "ENTERPRISE": 9900}

MAX_VIDEO_PIXELS = 3840 * 2160
MAX_IMAGE_PIXELS = 64_000_000  # checked from the header, before any pixel is decoded
PROBE_SECONDS = float(os.environ.get("PROBE_SECONDS", "120"))  # the upload checker's budget per file
MAX_VIDEO_FRAMES = 60 * 3600
PAGE_SIZE_MAX = 100

# ---------------------------------------------------------------- request validation (chalicelib/api)
API_VERSION = api_version.VERSION  # every route is served at /v1/<path> and, for existing clients, at /<path>
API_BODY_MAX_BYTES = 64 * 1024  # a JSON body over this is refused (413) before it is parsed
API_JSON_MAX_DEPTH = 16  # arrays and objects nested deeper are refused (400) before they are parsed
