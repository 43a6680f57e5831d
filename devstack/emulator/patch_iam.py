"""Patch of the emulator: make moto's IAM enforcement judge requests as AWS does, so a stack started with `--iam`
proves each process's declared policy (docs/deploy.md, "IAM proven").

moto enforces IAM once enforcement is switched on (INITIAL_NO_AUTH_ACTION_COUNT, or POST /moto-api/reset-auth):
every request must be signed by a known key and its action allowed by the key's policies. Four gaps keep that from
being a proof for this platform; each function below closes one:

- `name_the_resources`: moto knows the resource only for S3 and SQS. DynamoDB, Step Functions and Secrets Manager
  requests are checked against "*", which no resource-scoped Allow matches, so least privilege would always be
  denied. DynamoDB and SQS also check the API call (TransactWriteItems, DeleteMessageBatch) where IAM checks a
  permission (PutItem, UpdateItem, ConditionCheckItem... on each item's table; DeleteMessage).
- `sign_state_machine_calls_as_its_role`: Step Functions' service integrations call back into moto with fixed
  fake keys; on AWS they act as the state machine's role.
- `authenticate_presigned_s3`: a presigned URL or a browser POST carries its signature in the query string or the
  form, not in an Authorization header, and moto fails on it (500); S3 acts with the signer's rights. moto also
  checks some S3 calls under their API name (s3:HeadBucket) where IAM checks a permission (s3:ListBucket).
- `log_denials`: a refusal prints one line naming who was refused what, which the IAM test looks for.

With enforcement off (the default) every patch is inert. Checked against moto 5.2.5 (the gaps are there). The
canaries in tests/unit/devstack/test_iam_canaries.py run vanilla moto and fail once moto closes a gap: then drop the
function that closes it.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import threading
from urllib.parse import parse_qsl, quote, urlsplit

_applied = False
_lock = threading.Lock()


def _enforcing() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def enforce_like_aws() -> None:
    """Apply every patch of this module (idempotent)."""
    global _applied
    with _lock:
        if not _applied:
            log_denials()
            name_the_resources()
            sign_state_machine_calls_as_its_role()
            authenticate_presigned_s3()
            _applied = True


# ---------------------------------------------------------------- refusals, logged
def log_denials() -> None:
    """Print `IAM denied: <principal> may not <action> on <resource>` before moto refuses a request."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.check_action_permitted

    @functools.wraps(original)
    def check_action_permitted(self, resource: str) -> None:
        try:
            original(self, resource)
        except Exception:
            print(f"IAM denied: {self._access_key.arn} may not {self._action} on {resource}", flush=True)
            raise

    IAMRequestBase.check_action_permitted = check_action_permitted


# ---------------------------------------------------------------- resources, as each service names them
_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def dynamodb_checks(action: str, params: dict, region: str, account: str) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs DynamoDB authorizes for one request."""

    def table_arn(table: str) -> str:
        return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"

    if action == "TransactWriteItems":
        return [
            (_ITEM_ACTIONS[kind], table_arn(item[kind]["TableName"]))
            for item in params["TransactItems"]
            for kind in item
        ]
    if action == "TransactGetItems":
        return [("GetItem", table_arn(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if action in ("BatchWriteItem", "BatchGetItem"):
        return [(action, table_arn(table)) for table in params["RequestItems"]]
    if "TableName" not in params:
        return [(action, "*")]
    index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
    return [(action, table_arn(params["TableName"]) + index)]


# SQS batch calls are authorized as the single call (IAM has no sqs:DeleteMessageBatch)
_SQS_PERMISSIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _authorize_each(response, checks: list[tuple[str, str]]) -> None:
    """moto's signature and policy checks, once per (IAM action, resource) pair."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    if not _enforcing():
        ActionAuthenticatorMixin.request_count += 1
        return
    query = urlsplit(response.uri).query
    path = response.raw_path + (f"?{query}" if query else "")
    for action, arn in checks:
        request = IAMRequest(
            account_id=response.current_account,
            method=response.method,
            path=path,
            data=response.data,
            body=response.raw_body,
            headers=response.headers,
            action=action,
        )
        request.check_signature()
        request.check_action_permitted(arn)


def name_the_resources() -> None:
    """Give DynamoDB (per item), Step Functions and Secrets Manager requests their resource ARNs, and check SQS batch
    calls as the permission IAM checks."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.sqs.responses import SQSResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    def authorize_dynamodb(self, resource: str = "*") -> None:
        _authorize_each(self, dynamodb_checks(self._get_action(), self.body, self.region, self.current_account))

    def authorize_sqs(self, resource: str = "*") -> None:
        action = self._get_action()
        _authorize_each(self, [(_SQS_PERMISSIONS.get(action, action), resource)])

    def states_resource(self) -> str:
        # SendTask* name no resource: the task token is the authority ("*", as in IAM)
        return self._get_param("executionArn") or self._get_param("stateMachineArn") or "*"

    def secret_resource(self) -> str:
        secret_id = self._get_param("SecretId")
        try:
            return self.backend.describe_secret(secret_id).arn if secret_id else "*"
        except Exception:  # an unknown secret: IAM judges the name as given
            return secret_id

    DynamoHandler._authenticate_and_authorize_normal_action = authorize_dynamodb
    SQSResponse._authenticate_and_authorize_normal_action = authorize_sqs
    StepFunctionResponse._determine_resource = states_resource
    SecretsManagerResponse._determine_resource = secret_resource


# ---------------------------------------------------------------- Step Functions acts as its role
class _Boto3AsTheStateMachinesRole:
    """Stands in for `boto3` inside moto's Step Functions: clients sign with the state machine role's credentials."""

    def __init__(self):
        self._credentials: dict[str, dict] = {}

    def client(self, **kwargs):
        """boto3.client, with the role's credentials while IAM is enforced."""
        import boto3

        if _enforcing():
            kwargs.update(self._role_credentials(kwargs["region_name"]))
        return boto3.client(**kwargs)

    def _role_credentials(self, region: str) -> dict:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
        from moto.sts.models import sts_backends

        roles = {
            (account, machine.roleArn)
            for account, regions in stepfunctions_parser_backends.items()
            for backend in regions.values()
            for machine in backend.state_machines
        }
        if len(roles) != 1:
            raise RuntimeError(f"IAM mode signs Step Functions' calls as the one state machine role; found {roles}")
        account, role = roles.pop()
        if role not in self._credentials:
            assumed = sts_backends[account]["aws"].assume_role(
                region_name=region,
                role_session_name="ai3d-states",
                role_arn=role,
                policy="",
                duration=43200,
                external_id="",
            )
            self._credentials[role] = {
                "aws_access_key_id": assumed.access_key_id,
                "aws_secret_access_key": assumed.secret_access_key,
                "aws_session_token": assumed.session_token,
            }
        return self._credentials[role]


def sign_state_machine_calls_as_its_role() -> None:
    """Make the clients of moto's Step Functions integrations (dynamodb:updateItem, sqs:sendMessage...) act as the
    state machine's role instead of with fixed fake keys."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    boto_client.boto3 = _Boto3AsTheStateMachinesRole()


# ---------------------------------------------------------------- presigned URLs and POST uploads
def _signing_key(secret: str, scope: list[str]) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in scope[1:]:  # date, region, service, aws4_request
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def post_signature(secret: str, credential: str, policy_b64: str) -> str:
    """The SigV4 signature of a presigned POST's policy."""
    return hmac.new(_signing_key(secret, credential.split("/")), policy_b64.encode(), hashlib.sha256).hexdigest()


def query_signature(secret: str, method: str, raw_path: str, query: str, host: str) -> str:
    """The SigV4 signature of a presigned URL (query-string authentication; S3 signs the host header only)."""
    params = sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "X-Amz-Signature")
    fields = dict(params)
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
    headers = {"host": host}
    signed = fields["X-Amz-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical = "\n".join([method, raw_path, canonical_query, canonical_headers, ";".join(signed), "UNSIGNED-PAYLOAD"])
    scope = fields["X-Amz-Credential"].split("/")
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", fields["X-Amz-Date"], "/".join(scope[1:]), hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(_signing_key(secret, scope), to_sign.encode(), hashlib.sha256).hexdigest()


# S3 calls whose IAM permission has another name (HeadObject is already GetObject in moto)
_S3_PERMISSIONS = {"HeadBucket": "ListBucket", "ListBuckets": "ListAllMyBuckets", "SelectObject": "GetObject"}


def authenticate_presigned_s3() -> None:
    """Authenticate S3 requests signed in the query string or in a POST form by their signer, then apply the
    signer's policies to the object (as S3 does); unsigned requests are refused. Checks use IAM's permission names."""
    from moto.iam.access_control import CreateAccessKeyFailure, S3IAMRequest, create_access_key
    from moto.s3.exceptions import S3AccessDeniedError, S3SignatureDoesNotMatchError
    from moto.s3.responses import S3Response

    original = S3Response._authenticate_and_authorize_s3_action

    class SignedElsewhere(S3IAMRequest):
        """An S3 request whose credential and signature came in the query string or the form."""

        def __init__(self, response, credential: str, token: str | None):
            scope = credential.split("/")
            self.account_id = response.current_account
            self._data, self._headers = response.data, response.headers
            self._region, self._service = scope[2], scope[3]
            self._action = f"s3:{response.data['Action']}"
            try:
                self._access_key = create_access_key(
                    self.account_id, "aws", scope[0], {"X-Amz-Security-Token": token} if token else {}
                )
            except CreateAccessKeyFailure as exc:
                self._raise_invalid_access_key(exc.reason)

        def secret(self) -> str:
            """The signer's secret key."""
            return self._access_key.create_credentials().secret_key

    def authorize(self, bucket_name: str | None = None, key_name: str | None = None) -> None:
        if "Action" in self.data:  # moto names some checks after the API call; IAM after the permission
            self.data["Action"] = _S3_PERMISSIONS.get(self.data["Action"], self.data["Action"])
        if "Authorization" in self.headers or not _enforcing():
            return original(self, bucket_name=bucket_name, key_name=key_name)
        fields = {k.lower(): v[0] for k, v in self.querystring.items() if v}
        if "x-amz-credential" not in fields:
            raise S3AccessDeniedError()  # anonymous: every bucket here blocks public access
        request = SignedElsewhere(self, fields["x-amz-credential"], fields.get("x-amz-security-token"))
        if self.method == "POST" and "policy" in fields:
            expected = post_signature(request.secret(), fields["x-amz-credential"], fields["policy"])
            given, key_name = fields.get("x-amz-signature", ""), fields["key"]
        else:
            expected = query_signature(
                request.secret(), self.method, self.raw_path, urlsplit(self.uri).query, self.headers.get("Host", "")
            )
            given = fields.get("x-amz-signature", "")
            issued = datetime.datetime.strptime(fields["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
            if datetime.datetime.now(datetime.UTC) > issued + datetime.timedelta(seconds=int(fields["x-amz-expires"])):
                raise S3AccessDeniedError()
        if not hmac.compare_digest(given, expected):
            raise S3SignatureDoesNotMatchError()
        resource = f"{bucket_name}/{key_name}" if key_name else bucket_name
        request.check_action_permitted(f"arn:aws:s3:::{resource}")

    S3Response._authenticate_and_authorize_s3_action = authorize
