"""Route 53 failover: one name, answered by the primary while it is healthy, else by the secondary.

The health check probes the primary's load balancer over the public internet,
the way users reach it. Both records are aliases with EvaluateTargetHealth, so
a secondary with no healthy targets is not advertised either. Route 53's
control plane lives in us-east-1, so the records belong in the recovery stack,
away from the region that may be failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import Parameter, Ref, Sub, Tags, route53

from streamflix.config.models import DnsFailoverConfig
from streamflix.template import StackTemplate

PRIMARY_HEALTH_CHECK = "PrimaryHealthCheck"
#: Deploy-time parameters when the config leaves the zone and the name to the deploy.
HOSTED_ZONE_PARAMETER = "HostedZoneId"
RECORD_NAME_PARAMETER = "FailoverRecordName"
PRIMARY_RECORD = "PrimaryFailoverRecord"
SECONDARY_RECORD = "SecondaryFailoverRecord"


@dataclass(frozen=True)
class AliasEndpoint:
    """A load balancer as an alias target: its DNS name and its canonical hosted zone."""

    dns_name: Any
    hosted_zone_id: Any


def add_failover_records(
    t: StackTemplate,
    cfg: DnsFailoverConfig,
    *,
    primary: AliasEndpoint,
    secondary: AliasEndpoint,
    protocol: str,
    health_check_path: str,
    name_prefix: str,
) -> Ref:
    """The primary's health check and the PRIMARY/SECONDARY alias records; returns the check.

    Without ``hosted_zone_id``/``record_name`` in the config, both are deploy-time
    parameters (no default: the deploy must name them).
    """
    zone, name = _zone_and_record_name(t, cfg)
    check = _add_primary_health_check(
        t, cfg, primary, protocol=protocol, health_check_path=health_check_path, name_prefix=name_prefix
    )
    _add_failover_record(t, PRIMARY_RECORD, "PRIMARY", primary, zone=zone, name=name, health_check=Ref(check))
    _add_failover_record(t, SECONDARY_RECORD, "SECONDARY", secondary, zone=zone, name=name)
    t.add_output("PrimaryHealthCheckId", Ref(check), "Route 53 health check of the primary load balancer")
    t.add_output("FailoverRecordName", name, "Name users resolve; fails over from primary to recovery")
    return Ref(check)


def _zone_and_record_name(t: StackTemplate, cfg: DnsFailoverConfig) -> tuple[Any, Any]:
    """The hosted zone and the record name: from the config, or as two deploy-time parameters."""
    if not cfg.names_as_parameters:
        return cfg.hosted_zone_id, cfg.record_name
    zone = t.add_parameter(
        Parameter(
            HOSTED_ZONE_PARAMETER,
            Type="AWS::Route53::HostedZone::Id",
            Description="Public Route 53 hosted zone that holds the failover record.",
        ),
        group="DNS failover", label="Hosted zone",
    )
    name = t.add_parameter(
        Parameter(
            RECORD_NAME_PARAMETER,
            Type="String",
            AllowedPattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$",
            ConstraintDescription="a fully qualified domain name inside the hosted zone, e.g. app.streamflix.com",
            Description="Name clients resolve: the primary ALB while healthy, the recovery ALB otherwise.",
        ),
        group="DNS failover", label="Failover record name",
    )
    return Ref(zone), Ref(name)


def _add_primary_health_check(
    t: StackTemplate,
    cfg: DnsFailoverConfig,
    primary: AliasEndpoint,
    *,
    protocol: str,
    health_check_path: str,
    name_prefix: str,
) -> route53.HealthCheck:
    """Probe the primary's load balancer from the internet, on the port and path users and the ALB use."""
    https = protocol == "HTTPS"
    return t.add_resource(
        route53.HealthCheck(
            PRIMARY_HEALTH_CHECK,
            HealthCheckConfig=route53.HealthCheckConfig(
                Type=protocol,
                FullyQualifiedDomainName=primary.dns_name,
                Port=443 if https else 80,
                ResourcePath=health_check_path,
                RequestInterval=cfg.health_check_interval_seconds,
                FailureThreshold=cfg.health_check_failure_threshold,
                **({"EnableSNI": True} if https else {}),
            ),
            HealthCheckTags=Tags(Name=Sub(f"{name_prefix}-primary")),
        )
    )


def _add_failover_record(
    t: StackTemplate,
    logical_id: str,
    role: str,
    endpoint: AliasEndpoint,
    *,
    zone: Any,
    name: Any,
    health_check: Ref | None = None,
) -> None:
    """An alias A record answering for ``role`` (PRIMARY or SECONDARY) while ``endpoint`` has healthy targets."""
    extra = {"HealthCheckId": health_check} if health_check is not None else {}
    t.add_resource(
        route53.RecordSetType(
            logical_id,
            HostedZoneId=zone,
            Name=name,
            Type="A",
            SetIdentifier=role.lower(),
            Failover=role,
            AliasTarget=route53.AliasTarget(
                DNSName=endpoint.dns_name, HostedZoneId=endpoint.hosted_zone_id, EvaluateTargetHealth=True
            ),
            **extra,
        )
    )
