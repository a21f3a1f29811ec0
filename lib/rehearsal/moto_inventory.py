"""Lists what an AWS endpoint holds of every kind the pipeline's stack creates, one JSON array of
"kind: name" strings, with the credentials given.

Usage: python3 moto_inventory.py ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY REGION
The rehearsal asks this after `cdktf destroy` (moto's /moto-api/data.json cannot serialize Lambda
functions without Docker). A KMS key scheduled for deletion counts as gone: that is what a destroy
leaves on AWS too, for the key's waiting period.
"""
import json
import sys

import boto3

endpoint, key, secret, region = sys.argv[1:5]
session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)


def client(service):
    return session.client(service, endpoint_url=endpoint)


found = []
found += [f"s3 bucket: {b['Name']}" for b in client("s3").list_buckets().get("Buckets", [])]
found += [f"lambda function: {f['FunctionName']}" for f in client("lambda").list_functions().get("Functions", [])]
found += [f"iam role: {r['RoleName']}" for r in client("iam").list_roles().get("Roles", [])]
found += [f"sqs queue: {q}" for q in client("sqs").list_queues().get("QueueUrls", [])]
found += [f"sns topic: {t['TopicArn']}" for t in client("sns").list_topics().get("Topics", [])]
found += [f"cloudwatch alarm: {a['AlarmName']}" for a in client("cloudwatch").describe_alarms().get("MetricAlarms", [])]
found += [f"logs group: {g['logGroupName']}" for g in client("logs").describe_log_groups().get("logGroups", [])]
found += [f"scheduler schedule: {s['Name']}" for s in client("scheduler").list_schedules().get("Schedules", [])]
kms = client("kms")
for k in kms.list_keys().get("Keys", []):
    state = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
    if state != "PendingDeletion":
        found.append(f"kms key: {k['KeyId']} ({state})")
found += [f"secretsmanager secret: {s['Name']}" for s in client("secretsmanager").list_secrets().get("SecretList", [])]
print(json.dumps(sorted(found)))
