"""Starts moto.server with three gaps of moto 5.2.1 closed, each where AWS behaves otherwise.

Usage: python3 moto_shim.py [moto.server arguments], e.g. -H 127.0.0.1 -p 5000.
Nothing here changes what the constructs send AWS; each patch makes moto answer as AWS does.
"""
import sys

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


# 2. moto/iam/policy_conditions.py evaluates only StringEquals and treats any other operator as
#    matching, and moto/s3/models.py FakeBucket.get_permission passes no request context, so the
#    TLS-only statement (Deny when Bool aws:SecureTransport is false) denies every object call. Evaluate
#    Bool, and give bucket policies the context of a TLS request: the loopback hop to this emulator stands
#    in for AWS's HTTPS endpoint, which is the only one the SDK and the provider use there.
def bool_equals(expected, actual):
    values = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in [str(value).lower() for value in values]


policy_conditions.CONDITION_OPERATIONS["Bool"] = bool_equals


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


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
