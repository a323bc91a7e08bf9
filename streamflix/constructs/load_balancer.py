"""Internet-facing Application Load Balancer in front of the ECS service.

HTTPS on 443 (HTTP on 80 only redirects) when a certificate is configured;
plain HTTP on 80 otherwise, and then the template says so in its security
notes. The ALB's security group accepts 80/443 from the internet and may only
reach the service, on the container port; the service accepts that port from
the ALB alone. Access logs go to a bucket of their own: public access blocked,
TLS-only, expiring on a lifecycle, and encrypted with SSE-S3, the only
encryption ELB log delivery supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awacs import s3 as s3_actions
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Parameter, Ref, Sub, Tags, ec2, s3
from troposphere import elasticloadbalancingv2 as elb

from streamflix.config.models import AlarmThresholds, LoadBalancerConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.compute import LoadBalancerTarget
from streamflix.constructs.network import Network, no_egress_rule
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.constructs.security_groups import allow_between
from streamflix.template import StackTemplate, protect

LOAD_BALANCER_SECURITY_GROUP = "LoadBalancerSecurityGroup"
ACCESS_LOG_BUCKET = "AccessLogBucket"
ACCESS_LOG_BUCKET_POLICY = "AccessLogBucketPolicy"
LOAD_BALANCER = "LoadBalancer"
TARGET_GROUP = "TargetGroup"
HTTPS_LISTENER = "HttpsListener"
HTTP_LISTENER = "HttpListener"
#: Prefix of the rule pair that lets the ALB reach the service (``<prefix>Ingress``/``<prefix>Egress``).
LOAD_BALANCER_TO_SERVICE = "LoadBalancerToService"

ACCESS_LOG_PREFIX = "alb"
#: The principal that delivers ALB access logs in Regions opened since August 2022.
LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
#: Regions older than that do not accept the service principal: their ELB account
#: delivers the logs. Source: ELB user guide, "Enable access logs for your
#: Application Load Balancer" (the table AWS CDK's region-info also ships).
ELB_LOG_DELIVERY_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}

_INTERNET = "0.0.0.0/0"
#: Deploy-time parameter holding the stack's ACM certificate (``certificates_as_parameters``).
CERTIFICATE_PARAMETER = "CertificateArn"


@dataclass(frozen=True)
class LoadBalancer:
    arn: Ref
    dns_name: GetAtt
    hosted_zone_id: GetAtt
    full_name: GetAtt
    target_group_full_name: GetAtt
    protocol: str
    target: LoadBalancerTarget


def log_delivery_principal(region: str) -> Principal:
    """Who writes ALB access logs into the bucket, in ``region``."""
    account = ELB_LOG_DELIVERY_ACCOUNTS.get(region)
    if account is not None:
        return Principal("AWS", f"arn:aws:iam::{account}:root")
    return Principal("Service", LOG_DELIVERY_PRINCIPAL)


def add_certificate(t: StackTemplate, cfg: LoadBalancerConfig, region: str, configured: str | None) -> Any:
    """The listener's certificate: the configured ARN, the CertificateArn parameter, or None (plain HTTP)."""
    if not cfg.certificates_as_parameters:
        return configured
    parameter = t.add_parameter(
        Parameter(
            CERTIFICATE_PARAMETER,
            Type="String",
            AllowedPattern=rf"^arn:aws[a-z-]*:acm:{region}:[0-9]{{12}}:certificate/[0-9a-f-]{{36}}$",
            ConstraintDescription=f"an ACM certificate ARN in {region} (ALBs use certificates of their own region)",
            Description=f"ACM certificate in {region} for the HTTPS listener; it must cover the failover record name.",
        ),
        group="TLS",
        label=f"ACM certificate ({region})",
    )
    return Ref(parameter)


def add_load_balancer(
    t: StackTemplate,
    cfg: LoadBalancerConfig,
    *,
    project: str,
    region: str,
    network: Network,
    certificate_arn: Any,
    container_port: int,
    health_check_path: str,
    service_security_group: str,
    name_prefix: str,
) -> LoadBalancer:
    """ALB, target group, listeners, the ALB's security group and its access-log bucket.

    ``container_port`` and ``health_check_path`` come from the container contract, so the
    target group probes exactly what the container's own health check probes.

    ``service_security_group`` is the logical ID of the service's group: it gains
    the one ingress rule the ALB needs and nothing else does.
    """
    https = certificate_arn is not None
    group = _add_security_group(t, network, name_prefix=name_prefix, listener_ports=(80, 443) if https else (80,))
    allow_between(
        t, LOAD_BALANCER_TO_SERVICE, source=group.title, target=service_security_group, port=container_port,
        protocol="HTTP", source_label="load balancer", target_label="service",
    )
    bucket = _add_access_log_bucket(t, cfg)
    policy = _add_access_log_bucket_policy(t, bucket, region)
    alb = _add_alb(t, cfg, project=project, network=network, security_group=group, bucket=bucket, policy=policy)
    target_group = _add_target_group(
        t, project=project, network=network, container_port=container_port, health_check_path=health_check_path
    )
    forward = [elb.Action(Type="forward", TargetGroupArn=Ref(target_group))]
    if https:
        serving = _add_https_listeners(t, cfg, alb, forward=forward, certificate_arn=certificate_arn, security_group=group)
    else:
        serving = _add_plain_http_listener(t, alb, forward=forward, security_group=group)

    protocol = "HTTPS" if https else "HTTP"
    handle = LoadBalancer(
        arn=Ref(alb),
        dns_name=GetAtt(alb, "DNSName"),
        hosted_zone_id=GetAtt(alb, "CanonicalHostedZoneID"),
        full_name=GetAtt(alb, "LoadBalancerFullName"),
        target_group_full_name=GetAtt(target_group, "TargetGroupFullName"),
        protocol=protocol,
        target=LoadBalancerTarget(target_group_arn=Ref(target_group), listener=serving.title),
    )
    _add_outputs(t, handle, bucket)
    return handle


def _add_security_group(
    t: StackTemplate, network: Network, *, name_prefix: str, listener_ports: tuple[int, ...]
) -> ec2.SecurityGroup:
    """The listener ports from the internet in; nothing out until ``allow_between`` opens the service port."""
    return t.add_resource(
        ec2.SecurityGroup(
            LOAD_BALANCER_SECURITY_GROUP,
            GroupDescription="Load balancer: " + " and ".join(f"{p}" for p in listener_ports) + " from the internet",
            VpcId=network.vpc,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp=_INTERNET,
                    Description=("HTTPS" if port == 443 else "HTTP") + " from the internet",
                )
                for port in listener_ports
            ],
            SecurityGroupEgress=[no_egress_rule()],
            Tags=Tags(Name=Sub(f"{name_prefix}-alb")),
        )
    )


def _add_alb(
    t: StackTemplate,
    cfg: LoadBalancerConfig,
    *,
    project: str,
    network: Network,
    security_group: ec2.SecurityGroup,
    bucket: s3.Bucket,
    policy: s3.BucketPolicy,
) -> elb.LoadBalancer:
    return t.add_resource(
        elb.LoadBalancer(
            LOAD_BALANCER,
            # ELB checks it may write before it enables access logs; an internet-facing
            # balancer needs the gateway attached (SF3004).
            DependsOn=[policy.title, network.internet_attachment],
            Name=Sub(NAMES["alb"].sub_pattern(project)),
            Type="application",
            Scheme="internet-facing",
            IpAddressType="ipv4",
            Subnets=network.public_subnets,
            SecurityGroups=[Ref(security_group)],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key=key, Value=value)
                for key, value in (
                    ("access_logs.s3.enabled", "true"),
                    ("access_logs.s3.bucket", Ref(bucket)),
                    ("access_logs.s3.prefix", ACCESS_LOG_PREFIX),
                    ("deletion_protection.enabled", t.deletion_protection(True) if cfg.deletion_protection else "false"),
                    ("routing.http.drop_invalid_header_fields.enabled", "true"),
                    ("idle_timeout.timeout_seconds", "60"),
                )
            ],
        )
    )


def _add_target_group(
    t: StackTemplate, *, project: str, network: Network, container_port: int, health_check_path: str
) -> elb.TargetGroup:
    """The tasks by IP, probed on the container contract's own health check path."""
    return t.add_resource(
        elb.TargetGroup(
            TARGET_GROUP,
            Name=Sub(NAMES["target_group"].sub_pattern(project)),
            TargetType="ip",
            Protocol="HTTP",
            Port=container_port,
            VpcId=network.vpc,
            HealthCheckProtocol="HTTP",
            HealthCheckPath=health_check_path,
            HealthCheckIntervalSeconds=15,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            Matcher=elb.Matcher(HttpCode="200-399"),
            TargetGroupAttributes=[elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")],
        )
    )


def _add_https_listeners(
    t: StackTemplate,
    cfg: LoadBalancerConfig,
    alb: elb.LoadBalancer,
    *,
    forward: list[elb.Action],
    certificate_arn: Any,
    security_group: ec2.SecurityGroup,
) -> elb.Listener:
    """HTTPS on 443 serves; HTTP on 80 only redirects to it. Returns the serving listener."""
    serving = t.add_resource(
        elb.Listener(
            HTTPS_LISTENER,
            LoadBalancerArn=Ref(alb),
            Port=443,
            Protocol="HTTPS",
            SslPolicy=cfg.ssl_policy,
            Certificates=[elb.Certificate(CertificateArn=certificate_arn)],
            DefaultActions=forward,
        )
    )
    t.suppress_scan(
        security_group, "CKV_AWS_260",
        "port 80 only answers with a 301 redirect to HTTPS on 443 (HttpListener); nothing is served in plaintext",
    )
    t.add_resource(
        elb.Listener(
            HTTP_LISTENER,
            LoadBalancerArn=Ref(alb),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[
                elb.Action(
                    Type="redirect",
                    RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
                )
            ],
        )
    )
    return serving


def _add_plain_http_listener(
    t: StackTemplate, alb: elb.LoadBalancer, *, forward: list[elb.Action], security_group: ec2.SecurityGroup
) -> elb.Listener:
    """No certificate: HTTP on 80 serves, and the template says so in its security notes."""
    serving = t.add_resource(
        elb.Listener(HTTP_LISTENER, LoadBalancerArn=Ref(alb), Port=80, Protocol="HTTP", DefaultActions=forward)
    )
    no_certificate = (
        "no ACM certificate is configured, so this listener serves plain HTTP by config (recorded in "
        "Metadata.StreamFlix.SecurityNotes; prod needs a plaintext-listener security override)"
    )
    t.suppress_scan(serving, "CKV_AWS_2", no_certificate)
    t.suppress_scan(serving, "CKV_AWS_103", no_certificate)
    t.suppress_scan(security_group, "CKV_AWS_260", no_certificate)
    t.add_security_note(
        f"{HTTP_LISTENER} serves plain HTTP: no ACM certificate is configured "
        "(load_balancer.primary_certificate_arn / recovery_certificate_arn). Traffic between clients and "
        "the load balancer is unencrypted; configure certificates before serving real users."
    )
    return serving


def _add_outputs(t: StackTemplate, handle: LoadBalancer, bucket: s3.Bucket) -> None:
    t.add_output("LoadBalancerArn", handle.arn, "ARN of the application load balancer")
    t.add_output("LoadBalancerDnsName", handle.dns_name, "DNS name of the application load balancer")
    t.add_output(
        "LoadBalancerHostedZoneId", handle.hosted_zone_id, "Route 53 zone of the load balancer's DNS name (for alias records)"
    )
    t.add_output(
        "ServiceUrl", Sub(f"{handle.protocol.lower()}://${{{LOAD_BALANCER}.DNSName}}"), f"The service over {handle.protocol}"
    )
    t.add_output("AccessLogBucketName", Ref(bucket), "S3 bucket with the load balancer's access logs")


def _add_access_log_bucket(t: StackTemplate, cfg: LoadBalancerConfig) -> s3.Bucket:
    """Private, versioned, SSE-S3 encrypted; the logs expire after ``cfg.access_log_retention_days``."""
    bucket = t.add_resource(
        s3.Bucket(
            ACCESS_LOG_BUCKET,
            BucketEncryption=_sse_s3_encryption(),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[_access_log_expiry(cfg.access_log_retention_days)]),
        )
    )
    t.suppress_scan(
        bucket, "CKV_AWS_18",
        "this bucket is the access-log destination; logging its own access would need another bucket, and so on",
    )
    # Logs are evidence: keep them when the stack goes (the lifecycle still expires them).
    # ELB writes a test object when access logging is enabled, so a failed create's rollback
    # could not delete this bucket (BucketNotEmpty -> ROLLBACK_FAILED): it is kept instead,
    # under a generated name, and the lifecycle model lists it (config lifecycle_exceptions).
    protect(bucket, "Retain", keep_on_failed_create=True)
    return bucket


def _sse_s3_encryption() -> s3.BucketEncryption:
    # ELB log delivery supports SSE-S3 only; SSE-KMS would silently stop the logs.
    return s3.BucketEncryption(
        ServerSideEncryptionConfiguration=[
            s3.ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
            )
        ]
    )


def _access_log_expiry(retention_days: int) -> s3.LifecycleRule:
    return s3.LifecycleRule(
        Id="expire-access-logs",
        Status="Enabled",
        ExpirationInDays=retention_days,
        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=7),
        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
    )


def _add_access_log_bucket_policy(t: StackTemplate, bucket: s3.Bucket, region: str) -> s3.BucketPolicy:
    """TLS only, and ELB's log delivery may write under ``ACCESS_LOG_PREFIX`` (the ALB's prefix)."""
    bucket_arn = GetAtt(bucket, "Arn")
    return t.add_resource(
        s3.BucketPolicy(
            ACCESS_LOG_BUCKET_POLICY,
            Bucket=Ref(bucket),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[_deny_insecure_transport(bucket_arn), _elb_delivers_access_logs(bucket_arn, region)],
            ),
        )
    )


def _deny_insecure_transport(bucket_arn: GetAtt) -> Statement:
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[s3_actions.Action("*")],
        Resource=[bucket_arn, Sub("${Bucket}/*", Bucket=bucket_arn)],
        Condition=Condition(Bool("aws:SecureTransport", "false")),
    )


def _elb_delivers_access_logs(bucket_arn: GetAtt, region: str) -> Statement:
    return Statement(
        Sid="ElbDeliversAccessLogs",
        Effect=Allow,
        Principal=log_delivery_principal(region),
        Action=[s3_actions.PutObject],
        Resource=[Sub("${Bucket}/" + ACCESS_LOG_PREFIX + "/AWSLogs/${AWS::AccountId}/*", Bucket=bucket_arn)],
    )


def watch_load_balancer(monitoring: Monitoring, lb: LoadBalancer, th: AlarmThresholds) -> None:
    """Slow responses, and the critical one: no healthy target behind the load balancer."""
    balancer = (("LoadBalancer", lb.full_name),)
    response = Metric("AWS/ApplicationELB", "TargetResponseTime", balancer)
    healthy = Metric(
        "AWS/ApplicationELB", "HealthyHostCount", (("TargetGroup", lb.target_group_full_name),) + balancer, "Minimum", 60
    )
    seconds = th.target_response_ms / 1000
    monitoring.watch(
        "Load balancer",
        [
            MetricAlarm("LoadBalancerResponseTimeAlarm", response, ">", seconds,
                        f"Targets take more than {seconds:g} s to respond (average over 5 minutes)"),
            MetricAlarm("LoadBalancerNoHealthyHostsAlarm", healthy, "<", 1,
                        "No healthy target behind the load balancer: the service is down in this region",
                        evaluation_periods=2, treat_missing_data="breaching"),
        ],
        [Metric("AWS/ApplicationELB", "RequestCount", balancer, "Sum"),
         Metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", balancer, "Sum")],
    )
