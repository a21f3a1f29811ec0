"""Starts moto.server with six gaps of moto 5.2.1 closed, each where AWS behaves otherwise.

Usage: python3 moto_shim.py [moto.server arguments], e.g. -H 127.0.0.1 -p 5000.
Nothing here changes what the constructs send AWS; each patch makes moto answer as AWS does.
"""
import sys
from urllib.parse import quote, unquote

from botocore.awsrequest import AWSRequest
from moto.iam import access_control, policy_conditions
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.secretsmanager import responses as secrets_responses

SIZE_KEYS = ("ObjectSizeGreaterThan", "ObjectSizeLessThan")


# 1. moto/s3/models.py LifecycleAndFilter keeps only Prefix and Tags of an And filter, so
#    GetBucketLifecycleConfiguration drops ObjectSizeGreaterThan and the AWS provider waits forever for
#    the configuration it put to read back. Keep the sizes and answer them.
original_set_lifecycle = s3_models.FakeBucket.set_lifecycle


def set_lifecycle(self, rules):
    original_set_lifecycle(self, rules)
    for raw, rule in zip(rules, self.rules):
        and_filter = (raw.get("Filter") or {}).get("And") or {}
        if rule.filter is not None and rule.filter.and_filter is not None:
            rule.filter.and_filter.sizes = {key: int(and_filter[key]) for key in SIZE_KEYS if key in and_filter}


original_get_bucket_lifecycle = s3_responses.S3Response.get_bucket_lifecycle


def get_bucket_lifecycle(self):
    rules = self.backend.get_bucket_lifecycle(self.bucket_name)
    serialized = self.serialized

    def with_sizes(action_result):
        for answer, rule in zip(action_result.result["Rules"], rules):
            sizes = getattr(rule.filter.and_filter, "sizes", {}) if rule.filter and rule.filter.and_filter else {}
            if sizes:
                answer["Filter"]["And"].update(sizes)
        return serialized(action_result)

    self.serialized = with_sizes
    try:
        return original_get_bucket_lifecycle(self)
    finally:
        del self.serialized


s3_models.FakeBucket.set_lifecycle = set_lifecycle
s3_responses.S3Response.get_bucket_lifecycle = get_bucket_lifecycle


# 2. moto/iam/policy_conditions.py evaluates only StringEquals and treats any other operator as
#    matching; moto/iam/access_control.py IAMPolicyStatement.is_action_permitted answers DENIED when a
#    statement's condition is not met, whatever its effect (in AWS the statement then does not apply);
#    and moto/s3/models.py FakeBucket.get_permission passes no request context. So the TLS-only statement
#    (Deny when Bool aws:SecureTransport is false) denies every object call. Evaluate Bool, let a statement
#    whose condition is not met not apply, and give bucket policies the context of a TLS request: the
#    loopback hop to this emulator stands in for AWS's HTTPS endpoint, the only one the SDK and the
#    provider use there.
def bool_equals(expected, actual):
    values = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in [str(value).lower() for value in values]


policy_conditions.CONDITION_OPERATIONS["Bool"] = bool_equals

original_statement_permitted = access_control.IAMPolicyStatement.is_action_permitted


def statement_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    if self._statement.get("Condition") and not self._check_conditions(incoming_condition_values):
        return access_control.PermissionResult.NEUTRAL
    return original_statement_permitted(self, action, resource, principal, incoming_condition_values)


access_control.IAMPolicyStatement.is_action_permitted = statement_permitted


def get_permission(self, action, resource):
    if self.policy is None:
        return access_control.PermissionResult.NEUTRAL
    policy = access_control.IAMPolicy(self.policy.decode())
    return policy.is_action_permitted(action, resource, None, {"aws:SecureTransport": "true"})


s3_models.FakeBucket.get_permission = get_permission


# 3. moto/core/responses.py BaseResponse.call_action checks every action but S3's against resource "*",
#    so with IAM enforcement on, a role allowed secretsmanager:GetSecretValue on one secret's ARN (least
#    privilege) is denied its own secret. Check Secrets Manager calls against the secret's ARN.
def secret_resource(self):
    secret_id = self._get_param("SecretId")
    if not secret_id:
        return "*"
    try:
        return self.backend.describe_secret(secret_id).arn
    except Exception:  # an unknown secret: the action fails on its own with ResourceNotFound
        return "*"


secrets_responses.SecretsManagerResponse._determine_resource = secret_resource



# 4. moto/iam/access_control.py IAMRequestBase checks a signature over a request rebuilt from what moto
#    parsed, and gets two things wrong there:
#    a. moto/core/responses.py setup_class fills a request's parameters with its headers when it has
#       neither a query string nor a body, and _create_aws_request signs `body or data` (data: a form
#       POST's fields, whose raw body werkzeug has consumed). So every GET, HEAD or DELETE of a JSON or
#       REST service (Lambda GetFunction, Scheduler GetSchedule, ...) is checked as if its body were its
#       parameters, form-encoded: SignatureDoesNotMatch, on which the AWS provider's wait for a new
#       function fails. Checked here with the empty body it was signed with (S3 requests carry
#       x-amz-content-sha256, which moto takes as the payload's hash, and are left as they are).
#    b. The query string is taken from the URL as moto decoded it, so a value holding "/" (ListObjectsV2's
#       prefix=runs/featurize/) no longer matches the %2F the SDKs signed: SignatureDoesNotMatch on every
#       prefixed listing. Checked here with the query re-encoded as SigV4 encodes it. Likewise the path
#       of a non-S3 request: a function named by its ARN (GetFunction arn:aws:lambda:...) was signed with
#       its ":" encoded, then encoded again (SigV4 encodes non-S3 paths twice); moto's decoded path is
#       encoded once by botocore. Checked here with the path as sent.
#    c. The same decoded path, for S3 (whose keys SigV4 encodes once, and botocore's S3 signer takes as
#       given): an object key holding "=" or ":" (AEP's export writes egress/<id>/exportTime=<time>/...)
#       was signed with %3D and %3A and is checked with "=" and ":": SignatureDoesNotMatch on every such
#       PutObject. Checked here with the key encoded as SigV4 encodes it.
def canonical_query(url):
    path, _, query = url.partition("?")
    # Encoded once here; botocore's signer encodes a non-S3 path a second time, as SigV4 does, and an S3 path not.
    path = quote(unquote(path), safe="/~")
    if not query:
        return path
    pairs = []
    for pair in query.split("&"):
        key, equals, value = pair.partition("=")
        pairs.append(quote(unquote(key), safe="-_.~") + equals + quote(unquote(value), safe="-_.~"))
    return path + "?" + "&".join(pairs)


def create_aws_request(self):
    if self._body or self._method not in ("GET", "HEAD", "DELETE") or isinstance(self, access_control.S3IAMRequest):
        request = original_create_aws_request(self)
    else:
        signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed_headers, self._headers)
        request = AWSRequest(method=self._method, url=self._path, data=b"", headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
    request.url = canonical_query(request.url)
    return request


original_create_aws_request = access_control.IAMRequestBase._create_aws_request
access_control.IAMRequestBase._create_aws_request = create_aws_request


# 5. moto/iam/access_control.py IAMPolicyStatement._check_principal reads only a trust policy's "AWS"
#    principals and fails (TypeError, answered 500) on a role trusting a service principal alone, as every
#    Lambda execution role does ({"Service": "lambda.amazonaws.com"}); moto has no service identities. The
#    rehearsal's Lambda front stands in for the Lambda service and signs as an IAM user named after the
#    service principal: such a user matches that principal, and nothing else does.
def check_principal(self, principal):
    expected = self._statement.get("Principal")
    if not expected or expected == "*":
        return True

    def listed(value):
        return [] if value is None else value if isinstance(value, list) else [value]

    aws = listed(expected.get("AWS"))
    if "*" in aws or principal in aws:
        return True
    return any(principal.endswith(f":user/{service}") for service in listed(expected.get("Service")))


access_control.IAMPolicyStatement._check_principal = check_principal


# 6. moto/s3/models.py S3Backend.delete_object pops the whole key from a bucket that is not versioned
#    (versioning suspended counts), moto/s3/utils.py _VersionedKeyStore.pop disposes every version, and
#    FakeDeleteMarker has no dispose: AttributeError (HTTP 500) for a key with a delete marker. `cdktf
#    destroy` meets it: destroying aws_s3_bucket_versioning suspends versioning, then force_destroy
#    deletes every version and marker, retrying until it times out. A delete marker holds no data:
#    disposing of it does nothing.
s3_models.FakeDeleteMarker.dispose = lambda self, garbage=False: None


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
