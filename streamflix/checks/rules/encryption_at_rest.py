from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, is_true, literal_text, properties, resources, target_of


class EncryptionAtRestWithRotatingKeys(Rule):
    id = "SF2005"
    title = "Data at rest is encrypted with customer-managed, rotating keys"
    description = (
        "Every symmetric AWS::KMS::Key has EnableKeyRotation: true. RDS/DocDB/Neptune clusters and "
        "standalone instances set StorageEncrypted and a KmsKeyId (Performance Insights and RDS-managed "
        "master secrets a KMS key too); ElastiCache AtRestEncryptionEnabled + KmsKeyId; EFS Encrypted + "
        "KmsKeyId; Kinesis StreamEncryption KMS; SNS topics and SQS queues a KmsMasterKeyId; log groups "
        "a KmsKeyId; secrets a KmsKeyId; DynamoDB SSE with a KMS key; S3 buckets SSE-KMS with a key, "
        "except server-access-log and load-balancer access-log targets (AWS delivers those only to SSE-S3 buckets). An 'alias/aws/...' "
        "key is AWS-managed and does not count."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        for logical_id, key in resources(template, "AWS::KMS::Key"):
            props = properties(key)
            if props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT" and not is_true(props.get("EnableKeyRotation")):
                yield key, f"{logical_id} does not rotate (EnableKeyRotation: true)"
        for logical_id, resource in resources(template):
            for problem in at_rest_problems(template, resource):
                yield resource, f"{logical_id} {problem}"


def _customer_key(value: Any) -> bool:
    if value is None or value == "":
        return False
    text = literal_text(value)
    return not (text is not None and "alias/aws/" in text)


def _needs(props: dict[str, Any], flag: str | None, key_property: str) -> Iterator[str]:
    if flag is not None and not is_true(props.get(flag)):
        yield f"is not encrypted at rest ({flag}: true)"
    if not _customer_key(props.get(key_property)):
        yield f"needs a customer-managed key in {key_property}"


def at_rest_problems(template: dict[str, Any], resource: dict[str, Any]) -> Iterator[str]:
    """What keeps one resource from being encrypted at rest with a customer-managed key (empty: nothing)."""
    kind, props = resource.get("Type"), properties(resource)
    if kind in ("AWS::RDS::DBCluster", "AWS::DocDB::DBCluster", "AWS::Neptune::DBCluster"):
        if "SourceDBClusterIdentifier" not in props and "SnapshotIdentifier" not in props:
            yield from _needs(props, "StorageEncrypted", "KmsKeyId")
        if is_true(props.get("ManageMasterUserPassword")) and not _customer_key(
            (props.get("MasterUserSecret") or {}).get("KmsKeyId")
        ):
            yield "keeps its RDS-managed master secret without a customer-managed key (MasterUserSecret.KmsKeyId)"
    elif kind == "AWS::RDS::DBInstance":
        if "DBClusterIdentifier" not in props:
            if "SourceDBInstanceIdentifier" in props:
                # A replica inherits encryption; a cross-region one needs a key in its own region.
                if not _customer_key(props.get("KmsKeyId")):
                    yield "is a replica without a customer-managed KmsKeyId in its own region"
            else:
                yield from _needs(props, "StorageEncrypted", "KmsKeyId")
        if is_true(props.get("EnablePerformanceInsights")) and not _customer_key(props.get("PerformanceInsightsKMSKeyId")):
            yield "keeps Performance Insights data without a customer-managed key (PerformanceInsightsKMSKeyId)"
    elif kind == "AWS::ElastiCache::ReplicationGroup":
        if "GlobalReplicationGroupId" not in props:  # a global secondary inherits the primary's settings
            yield from _needs(props, "AtRestEncryptionEnabled", "KmsKeyId")
    elif kind == "AWS::EFS::FileSystem":
        yield from _needs(props, "Encrypted", "KmsKeyId")
    elif kind == "AWS::Kinesis::Stream":
        encryption = props.get("StreamEncryption") or {}
        if encryption.get("EncryptionType") != "KMS" or not _customer_key(encryption.get("KeyId")):
            yield "needs StreamEncryption with EncryptionType KMS and a customer-managed KeyId"
    elif kind in ("AWS::SNS::Topic", "AWS::SQS::Queue"):
        yield from _needs(props, None, "KmsMasterKeyId")
    elif kind in ("AWS::Logs::LogGroup", "AWS::SecretsManager::Secret"):
        yield from _needs(props, None, "KmsKeyId")
    elif kind == "AWS::DynamoDB::Table":
        sse = props.get("SSESpecification") or {}
        if not is_true(sse.get("SSEEnabled")) or not _customer_key(sse.get("KMSMasterKeyId")):
            yield "needs SSESpecification with SSEEnabled and a customer-managed KMSMasterKeyId"
    elif kind == "AWS::S3::Bucket":
        yield from _bucket(template, resource)


def _bucket(template: dict[str, Any], bucket: dict[str, Any]) -> Iterator[str]:
    rules = ((properties(bucket).get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")) or []
    defaults = [(r.get("ServerSideEncryptionByDefault") or {}) for r in rules if isinstance(r, dict)]
    if not defaults:
        yield "has no BucketEncryption"
        return
    algorithm = defaults[0].get("SSEAlgorithm")
    if algorithm in ("aws:kms", "aws:kms:dsse"):
        if not _customer_key(defaults[0].get("KMSMasterKeyID")):
            yield "uses SSE-KMS without a customer-managed KMSMasterKeyID"
    elif not _is_access_log_target(template, bucket):
        yield f"uses {algorithm}; use SSE-KMS with a customer-managed key (only access-log buckets may use AES256)"


def _is_access_log_target(template: dict[str, Any], bucket: dict[str, Any]) -> bool:
    """S3 server access logs and ELB access logs are delivered only to SSE-S3 buckets."""
    name = next((logical_id for logical_id, r in resources(template, "AWS::S3::Bucket") if r is bucket), None)
    s3_log_target = any(
        target_of((properties(other).get("LoggingConfiguration") or {}).get("DestinationBucketName")) == name
        for _, other in resources(template, "AWS::S3::Bucket")
    )
    elb_log_target = any(
        attribute.get("Key") == "access_logs.s3.bucket" and target_of(attribute.get("Value")) == name
        for _, balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        for attribute in properties(balancer).get("LoadBalancerAttributes") or []
        if isinstance(attribute, dict)
    )
    return s3_log_target or elb_log_target
