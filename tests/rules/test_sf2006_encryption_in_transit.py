"""SF2006: TLS forced on databases and caches; HTTP listeners only redirect once HTTPS exists."""

import pytest

RULE = "SF2006"

DATABASE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Params:
    Type: AWS::RDS::DBClusterParameterGroup
    Properties:
      Description: tls
      Family: aurora-postgresql16
      Parameters:
        rds.force_ssl: '{force}'
  Db:
    Type: AWS::RDS::DBCluster
    Properties:
      Engine: {engine}
      DBClusterParameterGroupName: {group}
"""
CACHE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: cache
      TransitEncryptionEnabled: {enabled}
      TransitEncryptionMode: {mode}
"""
LISTENERS = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Subnets: [subnet-1, subnet-2]
  Https:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Alb
      Protocol: HTTPS
      Port: 443
      SslPolicy: {policy}
      Certificates: [{{CertificateArn: arn:aws:acm:eu-central-1:123456789012:certificate/x}}]
      DefaultActions: [{{Type: forward, TargetGroupArn: arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/x/y}}]
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Alb
      Protocol: HTTP
      Port: 80
      DefaultActions:
        - {http_action}
"""
REDIRECT = "{Type: redirect, RedirectConfig: {Protocol: HTTPS, Port: '443', StatusCode: HTTP_301}}"
FORWARD = "{Type: forward, TargetGroupArn: arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/x/y}"
MODERN = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@pytest.mark.parametrize(
    "text",
    [
        DATABASE.format(force=1, engine="aurora-postgresql", group="!Ref Params"),
        CACHE.format(enabled="true", mode="required"),
        LISTENERS.format(policy=MODERN, http_action=REDIRECT),
        LISTENERS.replace("Protocol: HTTPS", "Protocol: HTTP").format(policy=MODERN, http_action=FORWARD),
    ],
    ids=["forced-tls", "cache-tls", "redirect", "no-certificate-yet"],
)
def test_good(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_database_accepting_plaintext(rule_findings):
    findings = rule_findings(DATABASE.format(force=0, engine="aurora-postgresql", group="!Ref Params"), RULE)
    assert [f.message for f in findings] == [
        "Db accepts plaintext connections: parameter group Params must set rds.force_ssl = 1"
    ]


def test_database_on_a_default_parameter_group(rule_findings):
    findings = rule_findings(DATABASE.format(force=1, engine="aurora-postgresql", group="default.aurora-postgresql16"), RULE)
    assert "Db does not use a parameter group from this template" in findings[0].message


def test_mysql_needs_its_own_parameter(rule_findings):
    findings = rule_findings(DATABASE.format(force=1, engine="aurora-mysql", group="!Ref Params"), RULE)
    assert "must set require_secure_transport = 1" in findings[0].message


@pytest.mark.parametrize(
    ("enabled", "mode", "message"),
    [
        ("false", "required", "Cache needs TransitEncryptionEnabled: true"),
        ("true", "preferred", "Cache TransitEncryptionMode 'preferred' still accepts plaintext; use 'required'"),
    ],
)
def test_cache_without_forced_tls(rule_findings, enabled, mode, message):
    assert [f.message for f in rule_findings(CACHE.format(enabled=enabled, mode=mode), RULE)] == [message]


def test_http_listener_serving_beside_https(rule_findings, line_of):
    text = LISTENERS.format(policy=MODERN, http_action=FORWARD)
    findings = rule_findings(text, RULE)
    assert [f.message for f in findings] == ["Http serves plain HTTP although Alb has an HTTPS listener; only redirect to 443"]
    assert findings[0].line == line_of(text, "Type: AWS::ElasticLoadBalancingV2::Listener", after="Http:")


def test_outdated_tls_policy(rule_findings):
    findings = rule_findings(LISTENERS.format(policy="ELBSecurityPolicy-2016-08", http_action=REDIRECT), RULE)
    assert [f.message for f in findings] == [
        "Https needs an SslPolicy that allows only TLS 1.2+ (found ELBSecurityPolicy-2016-08)"
    ]
