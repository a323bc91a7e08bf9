"""SF2005: data at rest is encrypted with customer-managed keys that rotate."""

import pytest

RULE = "SF2005"


def one(name: str, type_: str, props: str) -> str:
    return f"AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  {name}:\n    Type: {type_}\n    Properties:\n{props}"


KEY = one("Key", "AWS::KMS::Key", "      EnableKeyRotation: true\n")
GOOD = {
    "cluster": one("Db", "AWS::RDS::DBCluster", "      Engine: aurora-postgresql\n      StorageEncrypted: true\n      KmsKeyId: !Ref Key\n"),
    "cache": one("Cache", "AWS::ElastiCache::ReplicationGroup", "      AtRestEncryptionEnabled: true\n      KmsKeyId: !Ref Key\n"),
    "efs": one("Files", "AWS::EFS::FileSystem", "      Encrypted: true\n      KmsKeyId: !Ref Key\n"),
    "kinesis": one("Events", "AWS::Kinesis::Stream", "      StreamEncryption:\n        EncryptionType: KMS\n        KeyId: !Ref Key\n"),
    "sns": one("Topic", "AWS::SNS::Topic", "      KmsMasterKeyId: !Ref Key\n"),
    "logs": one("Logs", "AWS::Logs::LogGroup", "      KmsKeyId: !GetAtt Key.Arn\n"),
    "bucket": one("Bucket", "AWS::S3::Bucket", "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n"
                  "          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: aws:kms\n              KMSMasterKeyID: !Ref Key\n"),
    "asymmetric-key": one("Signing", "AWS::KMS::Key", "      KeySpec: ECC_NIST_P256\n      KeyUsage: SIGN_VERIFY\n"),
}


@pytest.mark.parametrize("text", [KEY, *GOOD.values()], ids=["key", *GOOD])
def test_good(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_access_log_bucket_may_use_sse_s3(rule_findings):
    text = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Logs:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: {SSEAlgorithm: aws:kms, KMSMasterKeyID: !Ref Key}
      LoggingConfiguration: {DestinationBucketName: !Ref Logs}
"""
    assert rule_findings(text, RULE) == []


LOAD_BALANCER_LOGS = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Logs:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Subnets: [subnet-1, subnet-2]
      LoadBalancerAttributes:
        - {Key: access_logs.s3.enabled, Value: 'true'}
        - {Key: access_logs.s3.bucket, Value: !Ref Logs}
"""


def test_load_balancer_access_log_bucket_may_use_sse_s3(rule_findings):
    assert rule_findings(LOAD_BALANCER_LOGS, RULE) == []


def test_sse_s3_bucket_that_is_no_log_target_is_refused(rule_findings):
    text = LOAD_BALANCER_LOGS.replace("Value: !Ref Logs", "Value: some-other-bucket")
    (finding,) = rule_findings(text, RULE)
    assert "Logs uses AES256" in finding.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (one("Key", "AWS::KMS::Key", "      EnableKeyRotation: false\n"), "Key does not rotate (EnableKeyRotation: true)"),
        (one("Db", "AWS::RDS::DBCluster", "      Engine: aurora-postgresql\n      KmsKeyId: !Ref Key\n"),
         "Db is not encrypted at rest (StorageEncrypted: true)"),
        (one("Db", "AWS::RDS::DBCluster", "      Engine: aurora-postgresql\n      StorageEncrypted: true\n"),
         "Db needs a customer-managed key in KmsKeyId"),
        (one("Cache", "AWS::ElastiCache::ReplicationGroup", "      AtRestEncryptionEnabled: true\n      KmsKeyId: alias/aws/elasticache\n"),
         "Cache needs a customer-managed key in KmsKeyId"),
        (one("Files", "AWS::EFS::FileSystem", "      Encrypted: false\n      KmsKeyId: !Ref Key\n"),
         "Files is not encrypted at rest (Encrypted: true)"),
        (one("Events", "AWS::Kinesis::Stream", "      ShardCount: 1\n"),
         "Events needs StreamEncryption with EncryptionType KMS and a customer-managed KeyId"),
        (one("Topic", "AWS::SNS::Topic", "      KmsMasterKeyId: alias/aws/sns\n"), "Topic needs a customer-managed key in KmsMasterKeyId"),
        (one("Logs", "AWS::Logs::LogGroup", "      RetentionInDays: 30\n"), "Logs needs a customer-managed key in KmsKeyId"),
        (one("Bucket", "AWS::S3::Bucket", "      BucketName: data\n"), "Bucket has no BucketEncryption"),
        (one("Db", "AWS::RDS::DBInstance", "      Engine: postgres\n      StorageEncrypted: true\n      KmsKeyId: !Ref Key\n"
             "      EnablePerformanceInsights: true\n"),
         "Db keeps Performance Insights data without a customer-managed key (PerformanceInsightsKMSKeyId)"),
    ],
    ids=["key-rotation", "rds-unencrypted", "rds-no-key", "cache-aws-key", "efs", "kinesis", "sns", "logs", "s3", "pi"],
)
def test_bad(rule_findings, line_of, text, message):
    findings = rule_findings(text, RULE)
    assert [f.message for f in findings] == [message]
    assert findings[0].line == line_of(text, "Type:")
