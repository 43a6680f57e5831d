"""The API and event Lambdas: routes, the authorizer and event wiring only; logic lives in chalicelib/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from chalice import AuthResponse, Chalice, Rate, Response

from chalicelib import (
    accounts,
    apikeys,
    assets,
    credits,
    erasure,
    health,
    idempotency,
    jobs,
    live,
    observability,
    projects,
    secrets,
    sessions,
    settings,
    tokens,
    views,
    webhooks,
)
from chalicelib.admin_metrics import report as admin_metrics_report
from chalicelib.api import spec, validation
from chalicelib.billing import plans as billing_plans
from chalicelib.billing import subscriptions as billing
from chalicelib.billing import webhook as billing_webhook
from chalicelib.contract import jobtypes
from chalicelib.errors import AppError, Unauthorized
from chalicelib.observability import logger
from chalicelib.store.db import now_iso

app = Chalice(app_name="ai3d")
app.api.cors = True
app.experimental_feature_flags.update(["WEBSOCKETS"])
secrets.check_at_start()  # on AWS: refuse to start with a default, short or shared secret
JSON_HEADERS = {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
}  # errors are readable by the SPA too


# ---------------------------------------------------------------- cross-cutting
@app.authorizer(ttl_seconds=settings.AUTHORIZER_TTL_SECONDS)
def jwt_auth(auth_request):
    """Verify the bearer access token or API key and that it was not revoked; the verdict travels in the context and
    the middleware enforces it (and, for a key, its scopes and rate on every request)."""
    token = auth_request.token or ""
    scheme, _, value = token.partition(" ")
    value = value.strip()
    try:
        if scheme.lower() != "bearer" or not value:
            raise Unauthorized("expected 'Authorization: Bearer <token>'", code="INVALID_TOKEN")
        if apikeys.looks_like_key(value):
            key = apikeys.authenticate(value)
            context = {
                "valid": "true",
                "role": key.role,
                "kind": "key",
                "kh": key.digest,
                "scopes": " ".join(key.scopes),
            }
            return AuthResponse(routes=["*"], principal_id=key.user_id, context=context)
        claims = tokens.verify_access_token(value)
        role = sessions.check(claims)
    except Unauthorized as exc:
        context = {"valid": "false", "reason": exc.message, "code": exc.code}
        return AuthResponse(routes=["*"], principal_id="anonymous", context=context)
    context = {"valid": "true", "role": role, "sid": claims.session_id, "tv": claims.token_version}
    return AuthResponse(routes=["*"], principal_id=claims.user_id, context=context)


@app.middleware("http")
def errors_and_auth(event, get_response):
    """The one place that rejects unauthenticated calls and maps domain errors to JSON responses."""
    request_id = event.context.get("requestId", "")
    logger.append_keys(request_id=request_id, path=event.path, method=event.method)
    rate_headers: dict[str, str] = {}
    try:
        auth = event.context.get("authorizer")
        if auth is not None:
            if auth.get("valid") != "true":
                raise Unauthorized(
                    auth.get("reason") or "invalid access token", code=auth.get("code") or "INVALID_TOKEN"
                )
            logger.append_keys(user_id=auth.get("principalId"))
            if auth.get("kind") == "key":  # every request: revoked at once, scopes, rate
                key = apikeys.KeyAuth(auth["principalId"], auth["role"], auth["kh"], tuple(auth["scopes"].split()))
                rate_headers = apikeys.admit(key, event.method, event.path)
            elif event.method not in ("GET", "HEAD", "OPTIONS"):  # a write: revoked or disabled callers stop at once
                claims = tokens.Claims(auth["principalId"], auth["role"], auth["sid"], int(auth["tv"]))
                sessions.check(claims, fresh=True)
        _validate(event)
        response = get_response(event)
        response.headers = {**(response.headers or {}), **rate_headers}
        if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
            # Chalice's own refusals (e.g. 415 for a non-JSON content type) in the API's error shape
            code = re.sub(r"(?<!^)(?=[A-Z])", "_", str(response.body["Code"])).upper()
            response = Response(
                body={"error": {"code": code, "message": str(response.body.get("Message", ""))}},
                status_code=response.status_code,
                headers=JSON_HEADERS,
            )
        return response
    except AppError as exc:
        logger.info("request refused", extra={"status": exc.status, "code": exc.code})
        headers = {**JSON_HEADERS, **rate_headers, **exc.headers}
        return Response(body=exc.body(), status_code=exc.status, headers=headers)
    except Exception:
        logger.exception("unhandled error")
        return Response(
            body={"error": {"code": "INTERNAL_ERROR", "message": "internal error"}},
            status_code=500,
            headers=JSON_HEADERS,
        )
    finally:
        observability.flush()
        logger.remove_keys(["request_id", "path", "method", "user_id"])


def _validate(request) -> None:
    """Check the request against its operation's schemas (chalicelib/api/openapi.json, written from
    chalicelib/api/models.py) before the handler runs; the checked body and query travel on the request for `body()`
    and `query()`."""
    path = request.context.get("resourcePath", "")
    operation = spec.find(request.method, path)
    if operation is None:
        if request.method in app.routes.get(path, {}):  # a route nobody declared: refuse loudly, never unchecked
            raise RuntimeError(
                f"{request.method} {path} is not in chalicelib/api/openapi.json: see chalicelib/api/models.py"
            )
        return  # a method the path does not have: Chalice answers 405
    validation.path_params(request.uri_params)
    request.checked_query = validation.query(operation, request.query_params)
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type == "application/json" or not request.raw_body:  # any other type: Chalice answers 415
        request.checked_body = validation.body(operation, request.raw_body)


def route(path: str, method: str = "GET", authorizer=None) -> Callable:
    """Register a view at `path` and at its versioned twin /v1`path` (the same handler, auth and schemas)."""

    def register(view: Callable) -> Callable:
        app.route(f"/{settings.API_VERSION}{path}", methods=[method], authorizer=authorizer)(view)
        return app.route(path, methods=[method], authorizer=authorizer)(view)

    return register


def idempotent(handle, status: int) -> Response:
    """Answer a creating POST through its Idempotency-Key, if it has one: a retry gets the first response."""
    request = app.current_request
    data = body()
    path = request.path.removeprefix(f"/{settings.API_VERSION}").format(**(request.uri_params or {}))
    key = request.headers.get(idempotency.HEADER)
    code, answer, headers = idempotency.run(
        principal().user_id, key, request.method, path, data, lambda: (status, handle(data))
    )
    return Response(body=answer, status_code=code, headers=headers)


def principal() -> tokens.Principal:
    """The caller, as verified by the authorizer."""
    auth = app.current_request.context["authorizer"]
    return tokens.Principal(user_id=auth["principalId"], role=auth["role"])


def body() -> dict:
    """The request's JSON body as its operation's model checked it: the fields the caller sent."""
    return dict(getattr(app.current_request, "checked_body", {}))


def query() -> dict:
    """The query string parameters as their model checked and converted them."""
    return dict(getattr(app.current_request, "checked_query", {}))


def source_ip() -> str:
    """The caller's address as API Gateway saw it."""
    return app.current_request.context.get("identity", {}).get("sourceIp") or "unknown"


# ---------------------------------------------------------------- health
@route("/health")
def get_health():
    """Status of every dependency and worker; 503 when any is down."""
    ok, checks = health.report()
    return Response(body={"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503)


@route("/openapi.json")
def get_openapi():
    """This API's OpenAPI 3.1 document: every route with its request and response schemas."""
    return spec.document()


@route("/websocket")
def get_websocket():
    """{url}: where to connect for live job progress (the protocol is in docs/api.md); url is null when none runs."""
    return {"url": settings.WEBSOCKET_URL or None}


@route("/job-types")
def get_job_types():
    """Every job type with its inputs, params (type, bounds, default), and cost: the contract, for clients."""
    return jobtypes.describe()


# ---------------------------------------------------------------- accounts


@route("/auth/register", "POST")
def auth_register():
    """Sign up: 201 {user, accessToken, refreshToken, expiresIn}."""
    return Response(body=accounts.register(body(), source_ip()), status_code=201)


@route("/auth/login", "POST")
def auth_login():
    """Log in: {accessToken, refreshToken, expiresIn, user}; failures are throttled per email and per address."""
    return accounts.login(body(), source_ip())


@route("/auth/refresh", "POST")
def auth_refresh():
    """Rotate a refresh token into a new pair."""
    return accounts.refresh(body())


@route("/auth/logout", "POST")
def auth_logout():
    """Revoke the refresh token's session (its access tokens stop within 30 s)."""
    accounts.logout(body())
    return Response(body="", status_code=204)


@route("/auth/logout-all", "POST", authorizer=jwt_auth)
def auth_logout_all():
    """End every session of the caller and revoke all their access tokens."""
    accounts.logout_everywhere(principal())
    return Response(body="", status_code=204)


@route("/users/me", authorizer=jwt_auth)
def users_me_get():
    """The caller's account."""
    return accounts.get_me(principal())


@route("/users/me", "PATCH", authorizer=jwt_auth)
def users_me_patch():
    """Change name and/or password: {user} (plus a new token pair after a password change)."""
    return accounts.update_me(principal(), body(), source_ip())


@route("/users/me", "DELETE", authorizer=jwt_auth)
def users_me_delete():
    """Delete the caller's account: 202 at once, then everything it owns is erased (its tokens stop now); a paid
    subscription ends now (nothing more is charged)."""
    billing.end_now(principal())
    return Response(body=erasure.request(principal()), status_code=202)


@route("/users/me/webhook-secret", "POST", authorizer=jwt_auth)
def users_me_webhook_secret():
    """201 {secret, createdAt, previousValidUntil}: a new webhook signing secret, shown only now (rotates the last)."""
    return Response(body=webhooks.rotate_secret(principal()), status_code=201)


@route("/admin/users", authorizer=jwt_auth)
def admin_users_list():
    """Admin: users, newest first: {items, nextToken}."""
    return accounts.list_users(principal(), query())


@route("/admin/users/{user_id}", "PATCH", authorizer=jwt_auth)
def admin_users_patch(user_id):
    """Admin: change a user's role, tier, disabled flag or credits."""
    return accounts.admin_update_user(principal(), user_id, body())


@route("/admin/metrics", authorizer=jwt_auth)
def admin_metrics():
    """Admin: jobs by status, credits spent/refunded/held since a date (default 30 days), and users."""
    return admin_metrics_report(principal(), query())


@route("/api-keys", "POST", authorizer=jwt_auth)
def api_keys_create():
    """201 {id, name, scopes, prefix, last4, createdAt, lastUsedAt, key}: a new API key, its value shown only now."""
    return Response(body=apikeys.create(principal(), body()), status_code=201)


@route("/api-keys", authorizer=jwt_auth)
def api_keys_list():
    """The caller's API keys: {items} (never a key's value)."""
    return apikeys.list_mine(principal())


@route("/api-keys/{key_id}", "DELETE", authorizer=jwt_auth)
def api_keys_revoke(key_id):
    """Revoke one of the caller's API keys: requests made with it get 401 from now on."""
    apikeys.revoke(principal(), key_id)
    return Response(body="", status_code=204)


# ---------------------------------------------------------------- projects and assets


@route("/projects", "POST", authorizer=jwt_auth)
def projects_create():
    """Create a project."""
    return Response(body=projects.create(principal(), body()), status_code=201)


@route("/projects", authorizer=jwt_auth)
def projects_list():
    """The caller's projects, newest first."""
    return projects.list_mine(principal(), query())


@route("/projects/{project_id}", authorizer=jwt_auth)
def projects_get(project_id):
    """One project."""
    return views.project(projects.get(principal(), project_id))


@route("/projects/{project_id}", "PATCH", authorizer=jwt_auth)
def projects_update(project_id):
    """Rename / re-describe a project."""
    return projects.update(principal(), project_id, body())


@route("/projects/{project_id}", "DELETE", authorizer=jwt_auth)
def projects_delete(project_id):
    """Delete a project, its assets, and cancel its jobs."""
    projects.delete(principal(), project_id)
    return Response(body="", status_code=204)


@route("/projects/{project_id}/assets", "POST", authorizer=jwt_auth)
def assets_create(project_id):
    """Register an upload; returns a presigned POST straight to S3 (Idempotency-Key honoured)."""
    return idempotent(lambda data: assets.request_upload(principal(), project_id, data), 201)


@route("/projects/{project_id}/assets", authorizer=jwt_auth)
def assets_list(project_id):
    """A project's assets."""
    return assets.list_for_project(principal(), project_id, query())


@route("/assets/{asset_id}", authorizer=jwt_auth)
def assets_get(asset_id):
    """One asset, with a signed download URL once READY (a job's output: once the job COMPLETED)."""
    asset = assets.get(principal(), asset_id)
    return views.asset(asset, with_url=assets.usable(asset))


@route("/assets/{asset_id}", "DELETE", authorizer=jwt_auth)
def assets_delete(asset_id):
    """Delete an asset and its file."""
    assets.delete(principal(), asset_id)
    return Response(body="", status_code=204)


# ---------------------------------------------------------------- jobs and credits
@route("/jobs", "POST", authorizer=jwt_auth)
def jobs_create():
    """Start a job (debits credits; Idempotency-Key honoured: a retry is charged once)."""
    return idempotent(lambda data: jobs.create(principal(), data), 202)


@route("/jobs", authorizer=jwt_auth)
def jobs_list():
    """Jobs of a project or of the caller."""
    return jobs.list_jobs(principal(), query())


@route("/jobs/{job_id}", authorizer=jwt_auth)
def jobs_get(job_id):
    """One job with progress and signed output URLs."""
    return views.job(jobs.get(principal(), job_id), with_urls=True)


@route("/jobs/{job_id}/cancel", "POST", authorizer=jwt_auth)
def jobs_cancel(job_id):
    """Cancel a running job (refunds it)."""
    return jobs.cancel(principal(), job_id)


@route("/users/me/credits", authorizer=jwt_auth)
def credits_get():
    """Balance and ledger."""
    return credits.ledger(principal().user_id, query())


# ---------------------------------------------------------------- billing (Stripe)
@route("/billing/plans", authorizer=jwt_auth)
def billing_plans_list():
    """Every tier with its monthly price and limits."""
    return {"plans": billing_plans.catalog()}


@route("/billing/subscription", authorizer=jwt_auth)
def billing_subscription_get():
    """The caller's subscription."""
    return billing.view(principal())


@route("/billing/subscription", "POST", authorizer=jwt_auth)
def billing_subscription_start():
    """Subscribe to a paid plan with a card (a Stripe PaymentMethod id)."""
    return Response(body=billing.start(principal(), body()), status_code=201)


@route("/billing/subscription", "PATCH", authorizer=jwt_auth)
def billing_subscription_change():
    """Change plan: an upgrade now (prorated), a downgrade at the end of the period."""
    return billing.change(principal(), body())


@route("/billing/subscription", "DELETE", authorizer=jwt_auth)
def billing_subscription_cancel():
    """Cancel at the end of the paid period."""
    return billing.cancel(principal())


@route("/billing/subscription/resume", "POST", authorizer=jwt_auth)
def billing_subscription_resume():
    """Undo a cancellation before the period ends."""
    return billing.resume(principal())


@route("/billing/invoices", authorizer=jwt_auth)
def billing_invoices():
    """The caller's invoices."""
    return billing.invoices(principal())


@route("/billing/webhook", "POST")
def billing_webhook_receive():
    """Stripe's events (no JWT: the Stripe-Signature header authenticates them)."""
    request = app.current_request
    return billing_webhook.handle(request.raw_body or b"", request.headers.get("stripe-signature"))


# ---------------------------------------------------------------- live progress (WebSocket API)
@app.on_ws_connect()
def ws_connect(event):
    """A client connected: record it (it authenticates with its first message, so no secret rides in the URL)."""
    live.connect(event.connection_id)


@app.on_ws_message()
def ws_message(event):
    """auth / subscribe / ping: answered on the same connection."""
    live.reply(event.connection_id, live.handle(event.connection_id, event.body))


@app.on_ws_disconnect()
def ws_disconnect(event):
    """A client went away: forget its connection."""
    live.disconnect(event.connection_id)


# ---------------------------------------------------------------- events


def _each_record(event, handle) -> dict:
    """Handle each SQS record on its own; the failed ones come back as `batchItemFailures` (only they are retried)."""
    # imported here: the API function never pays for it at cold start (bench/coldstart)
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    try:
        return process_partial_response(
            event=event.to_dict(),
            record_handler=lambda record: handle(record.body),
            processor=BatchProcessor(event_type=EventType.SQS),
            context=event.context,
        )
    finally:
        observability.flush()


def _judge_upload(body: str) -> None:
    for key, etag in assets.s3_records(body):
        judged = assets.process_upload(key, etag)
        if judged is not None:
            jobs.start_waiting(judged)


def _job_event(body: str) -> None:
    message = json.loads(body)
    if message.get("type") == "webhook":
        webhooks.deliver(str(message["jobId"]), int(message.get("attempt", 0)))
    elif message.get("type") == live.MESSAGE_TYPE:
        live.publish(str(message["jobId"]))
    elif message.get("type") == erasure.MESSAGE_TYPE:
        erasure.erase(str(message["userId"]))
    else:
        jobs.on_pipeline_event(message)


@app.on_sqs_message(queue=settings.UPLOAD_EVENTS_QUEUE_NAME, batch_size=5, maximum_batching_window_in_seconds=1)
def on_upload(event):
    """S3 ObjectCreated (via SQS): verify the bytes, mark the asset READY/REJECTED, start waiting jobs."""
    return _each_record(event, _judge_upload)


@app.on_sqs_message(queue=settings.JOB_EVENTS_QUEUE_NAME, batch_size=10)
def on_job_event(event):
    """Pipeline reports (settle COMPLETED / FAILED with refund), live progress fan-out, webhook delivery attempts and
    account erasures."""
    return _each_record(event, _job_event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_jobs(event):
    """Fail and refund jobs whose execution ended without reporting, or whose input never arrived; end the tier of
    past-due subscriptions whose grace period is over."""
    swept = jobs.sweep()
    expired = billing.expire_grace()  # past-due subscriptions whose grace period ended drop to FREE
    logger.info("sweep done", extra={"swept": swept, "billing_expired": expired})


@app.schedule(Rate(1, unit=Rate.HOURS))
def monthly_grants(event):
    """Grant each user its tier's monthly credits, once per calendar month."""
    granted = credits.grant_all(now_iso())
    logger.info("monthly grants done", extra={"granted": granted})
