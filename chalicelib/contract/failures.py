"""Why a job failed, in words its owner can read: every error name the pipeline can end with, mapped in one place.

A worker answers a task with SendTaskFailure(error=RETRY or FINAL, cause=JSON {code, message}); the state
machine itself ends with the names Step Functions and its service integrations raise. `job_error` turns
either into the `{code, message}` the API shows, with no AWS vocabulary left in it.
"""

from __future__ import annotations

import json

RETRY = "TRANSIENT"  # the state machine retries the stage (with backoff)
FINAL = "BAD_INPUT"  # the stage can never succeed with this input: no retry

Failure = tuple[str, str]  # (code, message)

WORKER_LOST: Failure = (
    "WORKER_LOST",
    "the worker processing this job stopped responding and the job could not be resumed; credits were returned",
)
SERVICE_BUSY: Failure = ("SERVICE_BUSY", "the service was too busy to run this job; credits were returned")
PROCESSING_FAILED: Failure = ("PROCESSING_FAILED", "processing failed; credits were returned")

# Step Functions' own names, then the service integrations' (DynamoDB.*, SQS.*); the first match wins.
AWS_ERRORS: dict[str, Failure] = {
    "States.HeartbeatTimeout": WORKER_LOST,
    "States.Timeout": ("STAGE_TIMEOUT", "a processing stage did not finish in the time allowed; credits were returned"),
    "States.TaskFailed": PROCESSING_FAILED,
    "States.Runtime": ("PIPELINE_ERROR", "the processing pipeline met an internal error; credits were returned"),
    "States.Permissions": ("PIPELINE_ERROR", "the processing pipeline is not allowed to run; credits were returned"),
    "States.DataLimitExceeded": ("PIPELINE_ERROR", "a stage produced too much data to pass on; credits were returned"),
    "States.ResultPathMatchFailure": ("PIPELINE_ERROR", "the processing pipeline met an internal error"),
    "States.ParameterPathFailure": ("PIPELINE_ERROR", "the processing pipeline met an internal error"),
    "States.BranchFailed": PROCESSING_FAILED,
    "States.ExceedToleratedFailureThreshold": PROCESSING_FAILED,
    "States.NoChoiceMatched": ("PIPELINE_ERROR", "the processing pipeline met an internal error"),
    "States.IntrinsicFailure": ("PIPELINE_ERROR", "the processing pipeline met an internal error"),
    "DynamoDB.ConditionalCheckFailedException": ("JOB_NOT_RUNNING", "the job was no longer running"),
    "DynamoDB.ProvisionedThroughputExceededException": SERVICE_BUSY,
    "DynamoDB.ThrottlingException": SERVICE_BUSY,
    "DynamoDB.RequestLimitExceeded": SERVICE_BUSY,
    "DynamoDB.InternalServerError": SERVICE_BUSY,
    "DynamoDB.TransactionConflictException": SERVICE_BUSY,
    "DynamoDB.AmazonDynamoDBException": SERVICE_BUSY,
    "SQS.AmazonSQSException": SERVICE_BUSY,
    "SQS.SdkClientException": SERVICE_BUSY,
    "SQS.KmsThrottlingException": SERVICE_BUSY,
    "SQS.RequestThrottledException": SERVICE_BUSY,
    "CANCELLED": ("CANCELLED", "the job was cancelled"),
}
PREFIXES: dict[str, Failure] = {"DynamoDB.": SERVICE_BUSY, "SQS.": SERVICE_BUSY, "States.": PROCESSING_FAILED}


def worker_cause(code: str, message: str) -> str:
    """The SendTaskFailure cause a worker sends: its code and message as JSON (at most 32 000 characters)."""
    return json.dumps({"code": code, "message": message})[:32000]


def _from_worker(cause: object) -> Failure | None:
    try:
        parsed = json.loads(cause) if isinstance(cause, str) else None
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("code"), str) and isinstance(parsed.get("message"), str):
        return parsed["code"], parsed["message"]
    return None


def job_error(error: object) -> dict[str, str]:
    """{code, message} for a pipeline failure: Step Functions' `{"Error", "Cause"}` (either may be missing)."""
    details = error if isinstance(error, dict) else {}
    name, cause = str(details.get("Error") or ""), details.get("Cause")
    if name in (RETRY, FINAL):
        code, message = _from_worker(cause) or PROCESSING_FAILED
    elif name in AWS_ERRORS:
        code, message = AWS_ERRORS[name]
    else:
        code, message = next((f for prefix, f in PREFIXES.items() if name.startswith(prefix)), PROCESSING_FAILED)
    return {"code": code, "message": message}
