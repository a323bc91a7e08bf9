"""SF3002: deletion protection on at create turns a failed create into ROLLBACK_FAILED (finding 2)."""

BAD = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-postgresql, DeletionProtection: true}
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      LoadBalancerAttributes:
        - {Key: deletion_protection.enabled, Value: 'true'}
"""

GOOD = """
AWSTemplateFormatVersion: '2010-09-09'
Metadata:
  StreamFlix:
    FollowUpUpdates:
      - {Parameter: DeletionProtection, Value: 'true', Reason: rollback}
Parameters:
  DeletionProtection: {Type: String, AllowedValues: ['false', 'true'], Default: 'false'}
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-postgresql, DeletionProtection: !Ref DeletionProtection}
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      LoadBalancerAttributes:
        - {Key: deletion_protection.enabled, Value: !Ref DeletionProtection}
"""


def test_bad_protection_on_at_create(environment_findings):
    findings = environment_findings({"s": BAD}, "SF3002")
    assert [f.message.split(" is created")[0] for f in findings] == ["Cluster", "Balancer"]
    assert all("ROLLBACK_FAILED" in f.message for f in findings)


def test_bad_parameter_that_defaults_to_true(environment_findings):
    text = GOOD.replace("Default: 'false'", "Default: 'true'")
    assert len(environment_findings({"s": text}, "SF3002")) == 2


def test_good_protection_by_follow_up_update(environment_findings):
    assert environment_findings({"s": GOOD}, "SF3002") == []
