from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, as_list, is_true, properties, resources, target_of

#: The parameter that refuses plaintext connections, per engine family.
TLS_PARAMETERS = {"postgres": ("rds.force_ssl", {"1"}), "mysql": ("require_secure_transport", {"1", "ON"})}
#: Listener TLS policies that allow nothing older than TLS 1.2.
MODERN_TLS_POLICY_PREFIXES = ("ELBSecurityPolicy-TLS13-", "ELBSecurityPolicy-TLS-1-2", "ELBSecurityPolicy-FS-1-2")


class EncryptionInTransit(Rule):
    id = "SF2006"
    title = "Data in transit is encrypted"
    description = (
        "RDS PostgreSQL/MySQL clusters and standalone instances use a parameter group from this template "
        "that refuses plaintext (rds.force_ssl = 1, require_secure_transport = 1); ElastiCache "
        "replication groups set TransitEncryptionEnabled and no 'preferred' mode; HTTPS listeners use "
        "a TLS 1.2+ policy; when a load balancer has an HTTPS listener, every HTTP listener only "
        "redirects to HTTPS on 443."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        groups = {
            logical_id: properties(group).get("Parameters") or {}
            for logical_id, group in resources(template, "AWS::RDS::DBParameterGroup", "AWS::RDS::DBClusterParameterGroup")
        }
        for logical_id, db in resources(template, "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
            props = properties(db)
            if db["Type"] == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in props:
                continue  # the cluster's parameter group governs its members
            key = "DBClusterParameterGroupName" if db["Type"] == "AWS::RDS::DBCluster" else "DBParameterGroupName"
            family = _family(props.get("Engine"))
            group = target_of(props.get(key))
            if group not in groups:
                yield db, f"{logical_id} does not use a parameter group from this template ({key}), so TLS cannot be proven"
                continue
            wanted = [TLS_PARAMETERS[family]] if family else list(TLS_PARAMETERS.values())
            if not any(str(groups[group].get(name, "")).upper() in values for name, values in wanted):
                names = " or ".join(f"{name} = 1" for name, _ in wanted)
                yield db, f"{logical_id} accepts plaintext connections: parameter group {group} must set {names}"
        for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
            props = properties(group)
            if "GlobalReplicationGroupId" in props:
                continue
            if not is_true(props.get("TransitEncryptionEnabled")):
                yield group, f"{logical_id} needs TransitEncryptionEnabled: true"
            elif props.get("TransitEncryptionMode") == "preferred":
                yield group, f"{logical_id} TransitEncryptionMode 'preferred' still accepts plaintext; use 'required'"
        yield from _listeners(template)


def _family(engine: Any) -> str | None:
    if not isinstance(engine, str):
        return None
    if "postgres" in engine:
        return "postgres"
    if "mysql" in engine or "mariadb" in engine:
        return "mysql"
    return None


def _listeners(template: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    by_balancer: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener"):
        props = properties(listener)
        by_balancer.setdefault(str(target_of(props.get("LoadBalancerArn"))), []).append((logical_id, listener))
        if props.get("Protocol") == "HTTPS":
            policy = props.get("SslPolicy")
            if not (isinstance(policy, str) and policy.startswith(MODERN_TLS_POLICY_PREFIXES)):
                yield listener, f"{logical_id} needs an SslPolicy that allows only TLS 1.2+ (found {policy or 'the default'})"
    for balancer, listeners in by_balancer.items():
        if not any(properties(l).get("Protocol") == "HTTPS" for _, l in listeners):
            continue
        for logical_id, listener in listeners:
            props = properties(listener)
            if props.get("Protocol") == "HTTP" and not _redirects_to_https(props):
                yield listener, f"{logical_id} serves plain HTTP although {balancer} has an HTTPS listener; only redirect to 443"


def _redirects_to_https(props: dict[str, Any]) -> bool:
    actions = [a for a in as_list(props.get("DefaultActions")) if isinstance(a, dict)]
    return bool(actions) and all(
        a.get("Type") == "redirect"
        and (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS"
        and str((a.get("RedirectConfig") or {}).get("Port")) == "443"
        for a in actions
    )
