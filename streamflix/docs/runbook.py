"""The runbook of each stack, generated from its rendered template (never written by hand).

Sections appear when the template holds what they are about: monitoring when
it has alarms, restore steps per stateful resource type, failover phases when
a cross-region read replica, EFS replication or Route 53 failover records are
in the stack or in the stacks it is wired to. Every identifier in a command is
read from the template (with the environment's suffix resolved) or from the
deployed stack's outputs and resources, so the runbook cannot drift from what
it describes.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

from streamflix.cfn import is_intrinsic, is_true, ref_name, text_of
from streamflix.docs import bootstrap, failover, maintenance, operations
from streamflix.docs import lifecycle as lifecycle_docs
from streamflix.docs.context import RunbookContext
from streamflix.docs.costs import COSTS_DIR
from streamflix.docs.diagram import DIAGRAM_DIR
from streamflix.docs.graph import TIER_TITLES, TIERS, tier_of
from streamflix.docs.lookups import Handle, output_command, placeholder_handle, resource_command, setup_lines, variable_name
from streamflix.docs.markdown import anchor, aws, aws_wait, code, command, table
from streamflix.docs.parameters import create_stack_file, overrides_file, parameter_values
from streamflix.docs.prose import render_chapter
from streamflix.docs.provisioning import load_times
from streamflix.docs.stack import (
    INLINE_TEMPLATE_LIMIT,
    RESOLVE_EFS_DESTINATION,
    EnvironmentFacts,
    StackFacts,
    Wire,
    replication_of,
)

RUNBOOK_DIR = "runbooks"

#: IAM service prefixes a deployer needs, by resource type prefix.
_SERVICE_OF_TYPE = {
    "AWS::EC2::": "ec2",
    "AWS::RDS::": "rds",
    "AWS::ElastiCache::": "elasticache",
    "AWS::ECS::": "ecs",
    "AWS::Kinesis::": "kinesis",
    "AWS::KMS::": "kms",
    "AWS::IAM::": "iam",
    "AWS::Logs::": "logs",
    "AWS::CloudWatch::": "cloudwatch",
    "AWS::SNS::": "sns",
    "AWS::ApplicationAutoScaling::": "application-autoscaling",
    "AWS::EFS::": "elasticfilesystem",
    "AWS::ElasticLoadBalancingV2::": "elasticloadbalancing",
    "AWS::Route53::": "route53",
    "AWS::SecretsManager::": "secretsmanager",
    "AWS::S3::": "s3",
}
#: Service-linked roles AWS creates on first use; creating them up front avoids a failed first deploy.
_SERVICE_LINKED_ROLES = {
    "AWS::ECS::": "ecs.amazonaws.com",
    "AWS::ElastiCache::": "elasticache.amazonaws.com",
    "AWS::RDS::": "rds.amazonaws.com",
    "AWS::ApplicationAutoScaling::": "ecs.application-autoscaling.amazonaws.com",
    "AWS::ElasticLoadBalancingV2::": "elasticloadbalancing.amazonaws.com",
}
#: EC2-VPC Elastic IPs (Service Quotas code).
ELASTIC_IP_QUOTA = "L-0263D0A3"


def runbook_path(blueprint: str) -> str:
    return f"{RUNBOOK_DIR}/{blueprint}.md"


def template_url(stack: StackFacts, environment: str) -> str:
    return f"https://${{TEMPLATE_BUCKET}}.s3.{stack.region}.amazonaws.com/{s3_key(stack, environment)}"


def s3_key(stack: StackFacts, environment: str) -> str:
    return f"{stack.project}/{environment}/{stack.filename}"


Section = tuple[str, str]


def render_runbook(ctx: RunbookContext) -> str:
    """The whole runbook: a header of stack facts, then the sections that apply, numbered in reading order."""
    chapters = _numbered_chapters(_sections(ctx))
    return render_chapter("runbook", **_header_facts(ctx), chapters=chapters) + "\n"


def _sections(ctx: RunbookContext) -> list[Section]:
    """The sections in the order an operator meets them (deploy, run, recover, retire), without those
    that do not apply to this stack."""
    sections: list[Section | None] = [
        purpose(ctx),
        prerequisites(ctx),
        deploy(ctx),
        bootstrap.database_bootstrap(ctx),
        maintenance.before_update(ctx),
        parameters_section(ctx),
        outputs_section(ctx),
        provisioning_section(ctx),
        maintenance.stuck_resources(ctx),
        operations.monitoring(ctx),
        operations.backup_and_restore(ctx),
        maintenance.secret_rotation(ctx),
        maintenance.maintenance(ctx),
        *failover.sections(ctx),
        maintenance.stalled_failover(ctx),
        maintenance.communication(ctx),
        lifecycle_docs.section(ctx),
        operations.troubleshooting(ctx),
        operations.security(ctx),
        costs_section(ctx),
    ]
    return [s for s in sections if s is not None]


def _numbered_chapters(sections: list[Section]) -> list[dict]:
    """Each section titled with its number, and the anchor the table of contents links to."""
    chapters = []
    for number, (title, text) in enumerate(sections, start=1):
        numbered = f"{number}. {title}"
        chapters.append({"title": numbered, "anchor": anchor(numbered), "text": text.strip()})
    return chapters


def _header_facts(ctx: RunbookContext) -> dict:
    """What the runbook's header states: the stack, how it was built, its size, deploy time and cost."""
    stack = ctx.stack
    return {
        "blueprint": stack.blueprint,
        "environment": ctx.environment,
        "region": stack.region,
        "build_command": ctx.build_command(),
        "filename": stack.filename,
        "suffix": stack.suffix,
        "stack_name": stack.stack_name,
        "size": f"{stack.size_bytes:,}",
        "resources": len(stack.resources),
        "outputs": len(stack.outputs),
        "create_file": create_stack_file(stack.blueprint),
        "overrides_file": overrides_file(stack.blueprint),
        "capabilities": stack.capabilities,
        "span": _span(ctx.provisioning.low_minutes, ctx.provisioning.high_minutes),
        "total": _usd(ctx.costs.total_usd),
        "complete": ctx.costs.complete,
        "costs_file": f"{COSTS_DIR}/{stack.blueprint}.json",
    }


def _minutes(value: float) -> str:
    return f"{value:g}"


def _span(low: float, high: float) -> str:
    """A planning range in whole minutes (rounded outwards)."""
    return f"{math.floor(low)}-{math.ceil(high)}"


def _usd(value) -> str:
    return f"${value:,.2f}"


# -- 1. purpose and architecture ------------------------------------------------


def purpose(ctx: RunbookContext) -> Section:
    stack = ctx.stack
    counts: dict[tuple[str, str], list[str]] = {}
    for rid, resource_type, _ in stack.iter_resources():
        counts.setdefault((tier_of(resource_type), resource_type), []).append(rid)
    rows = []
    for tier in TIERS:
        for (row_tier, resource_type), ids in sorted(counts.items()):
            if row_tier == tier:
                shown = ", ".join(f"`{i}`" for i in ids[:6]) + (f", … ({len(ids) - 6} more)" if len(ids) > 6 else "")
                rows.append([TIER_TITLES[tier], f"`{resource_type}`", len(ids), shown])
    facts = key_facts(stack)
    partners = ctx.env.partners_of(stack.blueprint)
    text = render_chapter(
        "purpose",
        description=stack.description,
        facts=facts,
        partners=[{"blueprint": p.blueprint, "stack_name": p.stack_name, "region": p.region} for p in partners],
        holds=table(["Tier", "Type", "Count", "Logical IDs"], rows),
        diagram_file=f"{DIAGRAM_DIR}/{stack.blueprint}.mmd",
        diagram=code(ctx.diagram.to_mermaid(), "mermaid"),
    )
    return "Purpose and architecture", text


def key_facts(stack: StackFacts) -> list[dict]:
    """One mapping per main component (its ``kind`` and what the purpose chapter states about it),
    read from its properties; chapters/purpose.md.j2 words them. Every property value is text:
    resolved where the template fixes it, else in ``text_of``'s notation (``!Ref X``), never a Python
    value."""
    facts: list[dict] = []
    for resource_type, facts_of in _COMPONENT_FACTS.items():
        ids = stack.of_type(resource_type)
        if ids:
            facts += facts_of(stack, ids)
    return facts


def _each(fact_of: Callable[[StackFacts, str], dict | None]) -> Callable[[StackFacts, list[str]], list[dict]]:
    """A builder stating one component per resource (those ``fact_of`` returns None for are not main components)."""

    def facts_of(stack: StackFacts, ids: list[str]) -> list[dict]:
        return [fact for fact in (fact_of(stack, rid) for rid in ids) if fact is not None]

    return facts_of


def _engine_component(stack: StackFacts, rid: str, kind: str, engine_default: str | None) -> dict:
    """What a database or cache states first: its kind, logical ID, engine and version, and its name."""
    p = stack.props(rid)
    return {
        "kind": kind,
        "id": rid,
        "engine": _shown(stack, p.get("Engine"), engine_default),
        "version": _shown(stack, p.get("EngineVersion"), ""),
        **_generated_name(stack, rid),
    }


def _cluster_fact(stack: StackFacts, rid: str) -> dict:
    p = stack.props(rid)
    members = stack.cluster_members(rid)
    return {
        **_engine_component(stack, rid, "cluster", engine_default=""),
        "instances": len(members),
        "classes": sorted({_shown(stack, stack.props(m).get("DBInstanceClass"), "?") for m in members}),
        "readers": max(len(members) - 1, 0),
        "encrypted": is_true(p.get("StorageEncrypted")),
        **_protection(stack, p.get("DeletionProtection")),
    }


def _instance_fact(stack: StackFacts, rid: str) -> dict | None:
    """A stand-alone DB instance or read replica (None for a cluster member: its cluster is the component)."""
    p = stack.props(rid)
    if "DBClusterIdentifier" in p:
        return None
    return {
        # engine None: a replica inherits its source's engine
        **_engine_component(stack, rid, "instance", engine_default=None),
        "replica": "SourceDBInstanceIdentifier" in p,
        "source_region": stack.resolve(p.get("SourceRegion")),
        "instance_class": _shown(stack, p.get("DBInstanceClass"), "?"),
        "multi_az": is_true(p.get("MultiAZ")),
        **_protection(stack, p.get("DeletionProtection")),
    }


def _cache_fact(stack: StackFacts, rid: str) -> dict:
    p = stack.props(rid)
    return {
        **_engine_component(stack, rid, "cache", engine_default="redis"),
        "nodes": _shown(stack, p.get("NumCacheClusters")),
        "node_type": _shown(stack, p.get("CacheNodeType"), "?"),
        "multi_az": is_true(p.get("MultiAZEnabled")),
        "automatic_failover": is_true(p.get("AutomaticFailoverEnabled")),
        "at_rest": is_true(p.get("AtRestEncryptionEnabled")),
        "in_transit": is_true(p.get("TransitEncryptionEnabled")),
    }


def _service_fact(stack: StackFacts, rid: str) -> dict:
    """An ECS service with the size of the task definition it runs (``?`` when that is not in the template)."""
    p = stack.props(rid)
    definition = ref_name(p.get("TaskDefinition"))
    task = stack.props(definition) if definition in stack.resources else {}
    subnets = _mapping(_mapping(p.get("NetworkConfiguration")).get("AwsvpcConfiguration")).get("Subnets")
    return {
        "kind": "service",
        "id": rid,
        "launch_type": _shown(stack, p.get("LaunchType"), "EC2"),
        "desired": _shown(stack, p.get("DesiredCount"), "1"),
        "cpu": _shown(stack, task.get("Cpu"), "?"),
        "memory": _shown(stack, task.get("Memory"), "?"),
        "architecture": _shown(stack, _mapping(task.get("RuntimePlatform")).get("CpuArchitecture"), "X86_64"),
        "subnets": len(subnets) if isinstance(subnets, list) else _shown(stack, subnets, "?"),
    }


def _stream_fact(stack: StackFacts, rid: str) -> dict:
    p = stack.props(rid)
    return {
        "kind": "stream",
        "id": rid,
        **_generated_name(stack, rid),
        "mode": _shown(stack, _mapping(p.get("StreamModeDetails")).get("StreamMode"), "PROVISIONED"),
        "retention_hours": _shown(stack, p.get("RetentionPeriodHours"), "24"),
    }


def _file_system_fact(stack: StackFacts, rid: str) -> dict:
    p = stack.props(rid)
    return {
        "kind": "file_system",
        "id": rid,
        "encrypted": is_true(p.get("Encrypted")),
        "replicated_to": [_shown(stack, d.get("Region"), "?") for d in replication_of(p).get("Destinations") or []],
    }


def _network_facts(stack: StackFacts, subnets: list[str]) -> list[dict]:
    """The network is one component, however many subnets it has: their count and the stack's ways out."""
    endpoints = stack.of_type("AWS::EC2::VPCEndpoint")
    interface = [r for r in endpoints if stack.props(r).get("VpcEndpointType") == "Interface"]
    return [
        {
            "kind": "network",
            "subnets": len(subnets),
            "nat_gateways": len(stack.of_type("AWS::EC2::NatGateway")),
            "interface_endpoints": len(interface),
            "gateway_endpoints": len(endpoints) - len(interface),
        }
    ]


def _load_balancer_fact(stack: StackFacts, rid: str) -> dict:
    p = stack.props(rid)
    attributes = {a.get("Key"): a.get("Value") for a in p.get("LoadBalancerAttributes") or []}
    return {
        "kind": "load_balancer",
        "id": rid,
        "type": _shown(stack, p.get("Type"), "application"),
        "scheme": _shown(stack, p.get("Scheme"), "internet-facing"),
        **_protection(stack, attributes.get("deletion_protection.enabled")),
    }


#: The facts of each main component, found by its resource type, in the order the purpose chapter lists them.
_COMPONENT_FACTS: dict[str, Callable[[StackFacts, list[str]], list[dict]]] = {
    "AWS::RDS::DBCluster": _each(_cluster_fact),
    "AWS::RDS::DBInstance": _each(_instance_fact),
    "AWS::ElastiCache::ReplicationGroup": _each(_cache_fact),
    "AWS::ECS::Service": _each(_service_fact),
    "AWS::Kinesis::Stream": _each(_stream_fact),
    "AWS::EFS::FileSystem": _each(_file_system_fact),
    "AWS::EC2::Subnet": _network_facts,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _each(_load_balancer_fact),
}


def _shown(stack: StackFacts, value, default: str | None = None) -> str | None:
    """A property as a key fact states it: ``default`` when the template leaves it out, else
    ``operations.shown`` (resolved, or in ``text_of``'s notation: an intrinsic is never a Python dict)."""
    return default if value is None else operations.shown(stack, value)


def _mapping(value) -> dict:
    """``value`` when it is a plain mapping of properties; ``{}`` when absent or an intrinsic (its
    members are then unknown, and each fact falls back to what AWS does without them)."""
    return value if isinstance(value, dict) and not is_intrinsic(value) else {}


def _generated_name(stack: StackFacts, rid: str) -> dict[str, str | None]:
    """The resource's name when the template sets it; else where to read the name CloudFormation
    generates: the output that carries it, or (without one) the command asking the stack."""
    name = stack.physical_name(rid)
    output = None if name else stack.output_of(rid)
    return {"name": name, "name_output": output, "name_command": None if name or output else resource_command(stack, rid)}


def _protection(stack: StackFacts, value) -> dict[str, bool]:
    """Deletion protection as the stack stands after its follow-up updates, and whether it was already on at create."""
    return {
        "deletion_protection": stack.switched_on(value),
        "protected_at_create": is_true(stack.resolve(value)),
    }


# -- 2. prerequisites -------------------------------------------------------------


def prerequisites(ctx: RunbookContext) -> Section:
    stack = ctx.stack
    types = {t for _, t, _ in stack.iter_resources()}
    services = sorted({"cloudformation", "s3"} | {s for prefix, s in _SERVICE_OF_TYPE.items() if _uses(types, prefix)})
    roles = [role for prefix, role in _SERVICE_LINKED_ROLES.items() if _uses(types, prefix)]
    eips = stack.of_type("AWS::EC2::EIP")
    engines = _pinned_engines(stack)
    sources, source_checks = _source_stacks(ctx)
    groups = [
        _account_and_bucket_steps(stack),
        [command("aws", "iam", "create-service-linked-role", options=[("--aws-service-name", r)]) for r in roles],
        _elastic_ip_room_steps(stack) if eips else [],
        [
            *_engine_placeholders(stack),
            *(_engine_version_check(stack, service, engine, version) for service, engine, version in engines),
        ],
        *source_checks,
    ]
    # One code block, a blank line between the checks of different prerequisites.
    checks = "\n\n".join("\n".join(group) for group in groups if group)
    text = render_chapter(
        "prerequisites",
        services=", ".join(f"`{s}`" for s in services),
        iam=bool(stack.iam_resources),
        region=stack.region,
        size=f"{stack.size_bytes:,}",
        needs_s3_upload=stack.needs_s3_upload,
        inline_limit=f"{INLINE_TEMPLATE_LIMIT:,}",
        roles=bool(roles),
        eips=len(eips),
        engines=bool(engines),
        catalog=stack.metadata.get("CatalogSnapshot", "its snapshot date"),
        sources=sources,
        emails=[str(e) for e in _alarm_emails(stack)],
        checks=code(checks),
    )
    return "Prerequisites", text


def _uses(types: set[str], prefix: str) -> bool:
    return any(t.startswith(prefix) for t in types)


def _account_and_bucket_steps(stack: StackFacts) -> list[str]:
    """Who the CLI acts as, and the template bucket every deploy command reads from."""
    return [
        "aws sts get-caller-identity",
        "export AWS_ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)",
        f'export TEMPLATE_BUCKET="{stack.project}-templates-${{AWS_ACCOUNT_ID}}-{stack.region}"   '
        f"# or any bucket in {stack.region} you can write to",
        "# only if you have none yet:",
        command("aws", "s3", "mb", "s3://${TEMPLATE_BUCKET}", options=[("--region", stack.region)]),
    ]


def _elastic_ip_room_steps(stack: StackFacts) -> list[str]:
    """The account's Elastic IP quota in the region, and how many addresses it already holds."""
    return [
        aws(
            "service-quotas",
            "get-service-quota",
            region=stack.region,
            options=[("--service-code", "ec2"), ("--quota-code", ELASTIC_IP_QUOTA), ("--query", "Quota.Value")],
        ),
        aws("ec2", "describe-addresses", region=stack.region, options=[("--query", "length(Addresses)")]),
    ]


def _source_stacks(ctx: RunbookContext) -> tuple[list[dict], list[list[str]]]:
    """The stacks this one takes parameters from (for the chapter), and a status check for each one
    that must be deployed first."""
    required_sources = {w.source_blueprint for w in ctx.env.required_wires(ctx.stack.blueprint)}
    sources, checks = [], []
    for source in ctx.env.sources_of(ctx.stack.blueprint):
        required = source.blueprint in required_sources
        sources.append({"stack_name": source.stack_name, "region": source.region, "required": required})
        # Optional wiring (e.g. dr-primary's backup key from dr-recovery): the stack deploys first
        # without it, so the source is not a prerequisite (see the deploy order).
        if required:
            status = [("--stack-name", source.stack_name), ("--query", "Stacks[0].StackStatus"), ("--output", "text")]
            checks.append([aws("cloudformation", "describe-stacks", region=source.region, options=status)])
    return sources, checks


def _alarm_emails(stack: StackFacts) -> list:
    """The e-mail endpoints subscribed to the stack's topics (each must confirm its subscription)."""
    return [
        s.get("Endpoint")
        for rid in stack.of_type("AWS::SNS::Topic")
        for s in stack.props(rid).get("Subscription") or []
        if s.get("Protocol") == "email"
    ]


def _pinned_engines(stack: StackFacts) -> list[tuple[str, str, str]]:
    found = []
    for rid, resource_type, props in stack.iter_resources():
        if "EngineVersion" not in props or "Engine" not in props:
            continue
        service = "elasticache" if resource_type.startswith("AWS::ElastiCache::") else "rds"
        item = (service, *(_before_deploy(stack, rid, props, p).value for p in ("Engine", "EngineVersion")))
        if item not in found:
            found.append(item)
    return found


def _engine_placeholders(stack: StackFacts) -> list[str]:
    """The lines setting the engines and versions ``_pinned_engines`` leaves to the operator."""
    handles = [
        _before_deploy(stack, rid, props, prop)
        for rid, _, props in stack.iter_resources()
        if "EngineVersion" in props and "Engine" in props
        for prop in ("Engine", "EngineVersion")
    ]
    return setup_lines(*handles)


def _before_deploy(stack: StackFacts, rid: str, props: dict, prop: str) -> Handle:
    """A setting as it will be deployed, for a check run before the deploy: what the stack resolves, else
    the value of the parameter the operator passes (or the setting), to fill in: never an intrinsic's text."""
    value = props[prop]
    resolved = stack.resolve(value)
    if resolved is not None:
        return Handle(resolved)
    parameter = ref_name(value)
    if parameter in {p.name for p in stack.parameters}:
        return placeholder_handle(variable_name(parameter), f"the {parameter} you deploy with")
    return placeholder_handle(variable_name(rid, variable_name(prop)), f"{prop} of {rid} as you deploy it")


def _engine_version_check(stack: StackFacts, service: str, engine: str, version: str) -> str:
    if service == "rds":
        return aws(
            "rds",
            "describe-db-engine-versions",
            region=stack.region,
            options=[
                ("--engine", engine),
                ("--engine-version", version),
                ("--query", "DBEngineVersions[].[Engine,EngineVersion,Status]"),
                ("--output", "text"),
            ],
        )
    return aws(
        "elasticache",
        "describe-cache-engine-versions",
        region=stack.region,
        options=[
            ("--engine", engine),
            ("--engine-version", version),
            ("--query", "CacheEngineVersions[].[Engine,EngineVersion]"),
            ("--output", "text"),
        ],
    )


# -- 3. deploy ----------------------------------------------------------------------


def deploy(ctx: RunbookContext) -> Section:
    stack, env = ctx.stack, ctx.env
    region, name = stack.region, stack.stack_name
    required = env.required_wires(stack.blueprint)
    # With required wiring the operator first fills the parameter files into copies (see _wiring).
    parameters = "file://${FILLED}" if required else f"file://{create_stack_file(stack.blueprint)}"
    overrides = "file://${FILLED_OVERRIDES}" if required else f"file://{overrides_file(stack.blueprint)}"
    wired = bool(required or env.optional_wires(stack.blueprint))
    wires, fill = _wiring(ctx) if wired else ("", "")
    update = [
        'CHANGE_SET="update-$(date -u +%Y%m%d%H%M%S)"',
        _copy_template(stack, ctx.environment),
        *_change_set_steps(stack, "$CHANGE_SET", "UPDATE", parameters),
    ]
    after = [
        f"python build.py outputs {ctx.build_command()} --stack {stack.blueprint}",
        f"STREAMFLIX_ENV={ctx.environment} python -m pytest tests/integration -m integration",
    ]
    text = render_chapter(
        "deploy",
        order=_deploy_order(ctx) if len(env.stacks) > 1 and env.partners_of(stack.blueprint) else [],
        capabilities=stack.capabilities,
        iam_resources=stack.iam_resources,
        upload=code("\n".join(_upload_steps(stack, ctx.environment))),
        wired=wired,
        wires=wires,
        fill=fill,
        span=_span(ctx.provisioning.low_minutes, ctx.provisioning.high_minutes),
        long_wait=ctx.provisioning.high_minutes >= 50,
        create=code("\n".join(_change_set_steps(stack, f"{name}-create", "CREATE", parameters))),
        events=code(_events(region, name)),
        stateful=stack.stateful,
        update=code("\n".join(update)),
        filled=bool(required),
        deploy=code(_deploy_without_executing(stack, ctx.environment, overrides)),
        after=code("\n".join(after)),
        **_delete_commands(stack),
    )
    return "Deploy", text


def _upload_steps(stack: StackFacts, environment: str) -> list[str]:
    """Copy the rendered template to the bucket and let CloudFormation validate it from there."""
    return [
        f"cd out/{environment}   # or your --out folder: the one holding {stack.filename}",
        f'TEMPLATE_URL="{template_url(stack, environment)}"',
        _copy_template(stack, environment),
        aws(
            "cloudformation",
            "validate-template",
            region=stack.region,
            options=[("--template-url", "$TEMPLATE_URL"), ("--query", "Capabilities")],
        ),
    ]


def _copy_template(stack: StackFacts, environment: str) -> str:
    destination = f"s3://${{TEMPLATE_BUCKET}}/{s3_key(stack, environment)}"
    return command("aws", "s3", "cp", stack.filename, destination, options=[("--region", stack.region)])


def _capabilities(stack: StackFacts) -> list[tuple[str, str]]:
    return [("--capabilities", stack.capabilities)] if stack.capabilities else []


def _change_set_steps(stack: StackFacts, change_set: str, change_set_type: str, parameters: str) -> list[str]:
    """Create a change set (``CREATE`` or ``UPDATE``), show it, execute it and wait for the stack."""
    region, name = stack.region, stack.stack_name
    return [
        aws(
            "cloudformation",
            "create-change-set",
            region=region,
            options=[
                ("--stack-name", name),
                ("--change-set-name", change_set),
                ("--change-set-type", change_set_type),
                ("--template-url", "$TEMPLATE_URL"),
                ("--parameters", parameters),
                *_capabilities(stack),
            ],
        ),
        _wait(region, name, "change-set-create-complete", change_set),
        _describe_change_set(region, name, change_set),
        aws(
            "cloudformation",
            "execute-change-set",
            region=region,
            options=[("--stack-name", name), ("--change-set-name", change_set)],
        ),
        _wait(region, name, f"stack-{change_set_type.lower()}-complete"),
    ]


def _deploy_without_executing(stack: StackFacts, environment: str, overrides: str) -> str:
    """The one-command alternative: ``aws cloudformation deploy`` stopping at the change set for review."""
    return aws(
        "cloudformation",
        "deploy",
        region=stack.region,
        options=[
            ("--stack-name", stack.stack_name),
            ("--template-file", stack.filename),
            ("--s3-bucket", "$TEMPLATE_BUCKET"),
            ("--s3-prefix", f"{stack.project}/{environment}"),
            ("--parameter-overrides", overrides),
            *_capabilities(stack),
            ("--no-execute-changeset", None),
        ],
    )


def _describe_change_set(region: str, name: str, change_set: str) -> str:
    return aws(
        "cloudformation",
        "describe-change-set",
        region=region,
        options=[
            ("--stack-name", name),
            ("--change-set-name", change_set),
            ("--query", "Changes[].ResourceChange.[Action,LogicalResourceId,ResourceType,Replacement]"),
            ("--output", "table"),
        ],
    )


def _wait(region: str, name: str, waiter: str, change_set: str | None = None) -> str:
    options = [("--stack-name", name), *([("--change-set-name", change_set)] if change_set else [])]
    return aws_wait("cloudformation", waiter, region=region, options=options)


def _events(region: str, name: str) -> str:
    return aws(
        "cloudformation",
        "describe-stack-events",
        region=region,
        options=[
            ("--stack-name", name),
            ("--max-items", "25"),
            ("--query", "StackEvents[].[Timestamp,LogicalResourceId,ResourceStatus,ResourceStatusReason]"),
            ("--output", "table"),
        ],
    )


def _deploy_order(ctx: RunbookContext) -> list[dict]:
    """The environment's deploy steps: every stack's create, then the updates that fill optional wiring."""
    env = ctx.env
    steps: list[dict] = [
        {
            "action": "create",
            "stack_name": env[blueprint].stack_name,
            "region": env[blueprint].region,
            "blueprint": blueprint,
            "this": blueprint == ctx.blueprint,
            "needs": [w.parameter for w in env.required_wires(blueprint)],
        }
        for blueprint in env.deploy_order()
    ]
    for blueprint in env.deploy_order():
        for wire in env.optional_wires(blueprint):
            source = env.stacks.get(wire.source_blueprint)
            steps.append(
                {
                    "action": "update",
                    "stack_name": env[blueprint].stack_name,
                    "parameter": wire.parameter,
                    "source": source.stack_name if source else None,
                    "output": wire.output,
                }
            )
    return steps


def _wiring(ctx: RunbookContext) -> tuple[str, str]:
    """The table of parameters other stacks' outputs fill, and the fenced commands filling the
    required ones into copies of the parameter files ("" when none is required)."""
    stack, env = ctx.stack, ctx.env
    required = env.required_wires(stack.blueprint)
    rows, setup, filled = [], [], []
    for wire in stack.wires.values():
        source = env.stacks.get(wire.source_blueprint)
        rows.append(_wire_row(wire, source, wire in required))
        if source is not None and wire in required:
            setup += _wire_value_lines(stack, source, wire)
            filled.append(wire)
    wires = table(["Parameter", "From stack", "Output", "Value", "Needed", "Detected from"], rows)
    if not setup:
        return wires, ""
    # Only wires whose source is in this environment get a value; the others keep their
    # "<from ...>" placeholder, so the unfilled check below still sees them.
    return wires, code("\n".join([*setup, *_fill_parameter_files(stack, filled)]))


def _wire_row(wire: Wire, source: StackFacts | None, required: bool) -> list[str]:
    """One wiring table row: the parameter, where its value comes from, and whether the deploy needs it."""
    how = "its EFS replica in this region" if wire.resolve == RESOLVE_EFS_DESTINATION else "the output's value"
    return [
        f"`{wire.parameter}`",
        f"`{source.stack_name if source else wire.source_blueprint}`",
        f"`{wire.output}`",
        how,
        "required" if required else "optional",
        wire.detected_by,
    ]


def _wire_value_lines(stack: StackFacts, source: StackFacts, wire: Wire) -> list[str]:
    """Shell lines setting the wired parameter's variable from the source stack's output; an EFS replica
    is the source file system's replica in this stack's region, not the output itself."""
    variable = variable_name(wire.parameter)
    if wire.resolve != RESOLVE_EFS_DESTINATION:
        return [f"{variable}=$({output_command(source, wire.output)})"]
    replica = aws(
        "efs",
        "describe-replication-configurations",
        region=source.region,
        one_line=True,
        options=[
            ("--file-system-id", f"${variable}_SOURCE"),
            ("--query", f"Replications[0].Destinations[?Region=='{stack.region}'].FileSystemId"),
            ("--output", "text"),
        ],
    )
    return [f"{variable}_SOURCE=$({output_command(source, wire.output)})", f"{variable}=$({replica})"]


def _fill_parameter_files(stack: StackFacts, required: list[Wire]) -> list[str]:
    """Copies of the create and overrides parameter files with the required wires' placeholders replaced,
    and a warning when one is still unfilled."""
    placeholders = parameter_values(stack)
    seds = " ".join(f"-e 's|{placeholders[w.parameter]}|'\"${variable_name(w.parameter)}\"'|'" for w in required)
    return [
        'FILLED="$(mktemp)"; FILLED_OVERRIDES="$(mktemp)"',
        f'sed {seds} {create_stack_file(stack.blueprint)} > "$FILLED"',
        f'sed {seds} {overrides_file(stack.blueprint)} > "$FILLED_OVERRIDES"',
        'grep -q "<from " "$FILLED" && echo "a parameter is still unfilled" >&2',
    ]


def _delete_commands(stack: StackFacts) -> dict[str, str]:
    """The delete steps' fenced commands ("" for a step the stack does not need) and what stays behind."""
    region, name = stack.region, stack.stack_name
    protections = operations.deletion_protection_off(stack)
    return {
        "keep_outputs": _keep_outputs_command(stack),
        "imports": _export_imports_check(stack),
        "protections": code("\n".join(protections["commands"])) if protections["commands"] else "",
        "protection_parameters": protections["parameters"],
        "protection_direct": protections["direct"],
        "delete": code(
            "\n".join(
                [
                    aws("cloudformation", "delete-stack", region=region, options=[("--stack-name", name)]),
                    _wait(region, name, "stack-delete-complete"),
                ]
            )
        ),
        "kept": _kept_resources_table(stack),
    }


def _keep_outputs_command(stack: StackFacts) -> str:
    """Save the stack's outputs to a file before they are gone with it."""
    return code(
        aws(
            "cloudformation",
            "describe-stacks",
            region=stack.region,
            options=[("--stack-name", stack.stack_name), ("--query", "Stacks[0].Outputs"), ("--output", "json")],
        )
        + f" > {stack.blueprint}-outputs-before-delete.json"
    )


def _export_imports_check(stack: StackFacts) -> str:
    """A loop naming every stack that still imports one of this stack's exports ("" without exports):
    CloudFormation refuses to delete a stack whose exports are imported."""
    exports = [e for e in (stack.export_name(o) for o in stack.outputs) if e]
    if not exports:
        return ""
    return code(
        "\n".join(
            [
                "for EXPORT in " + " \\\n    ".join(exports) + "; do",
                "  "
                + aws(
                    "cloudformation",
                    "list-imports",
                    region=stack.region,
                    options=[("--export-name", "$EXPORT"), ("--output", "text")],
                    one_line=True,
                )
                + ' 2>/dev/null && echo "^ still imports $EXPORT"',
                "done",
            ]
        )
    )


def _kept_resources_table(stack: StackFacts) -> str:
    """The stateful resources a delete leaves behind, by DeletionPolicy ("" when there are none)."""
    kept = [(rid, stack.resources[rid].get("DeletionPolicy")) for rid in stack.stateful]
    if not kept:
        return ""
    return table(
        ["Resource", "Type", "DeletionPolicy", "What remains"],
        [
            [
                f"`{rid}`",
                f"`{stack.type_of(rid)}`",
                policy,
                "a final snapshot" if policy == "Snapshot" else "the resource itself",
            ]
            for rid, policy in kept
        ],
    )


# -- 4./5. parameters and outputs -----------------------------------------------------


def parameters_section(ctx: RunbookContext) -> Section:
    stack = ctx.stack
    values = parameter_values(stack)
    rows = []
    for parameter in stack.parameters:
        wire = stack.wires.get(parameter.name)
        if wire is not None:
            source = f"`{wire.source_blueprint}` output `{wire.output}`" + (
                " (optional)" if parameter.default is not None else ""
            )
        elif parameter.default is not None:
            source = "template default"
        else:
            source = "required (no default)"
        constraint = parameter.allowed_pattern or (
            ", ".join(parameter.allowed_values) if parameter.allowed_values else ""
        )
        rows.append(
            [
                f"`{parameter.name}`",
                f"`{values[parameter.name]}`",
                parameter.type,
                source,
                f"`{constraint}`" if constraint else "",
                parameter.description,
            ]
        )
    text = render_chapter(
        "parameters",
        environment=ctx.environment,
        create_file=create_stack_file(stack.blueprint),
        overrides_file=overrides_file(stack.blueprint),
        parameters=table(["Parameter", "Value", "Type", "Source", "Constraint", "Description"], rows),
    )
    return "Parameters", text


def outputs_section(ctx: RunbookContext) -> Section:
    stack = ctx.stack
    rows = []
    for name, body in stack.outputs.items():
        literal = stack.resolve(body.get("Value"))
        rows.append(
            [
                f"`{name}`",
                f"`{stack.export_name(name) or ''}`",
                f"`{literal}`" if literal is not None else text_of(body.get("Value")),
                body.get("Description", ""),
            ]
        )
    commands = code("\n".join([
        aws("cloudformation", "describe-stacks", region=stack.region,
            options=[("--stack-name", stack.stack_name),
                     ("--query", "Stacks[0].Outputs[].[OutputKey,OutputValue]"),
                     ("--output", "table")]),
        f"python build.py outputs {ctx.build_command()} --stack {stack.blueprint}   # -> cfn-outputs/flat-outputs.json",
    ]))
    text = render_chapter(
        "outputs",
        commands=commands,
        outputs=table(["Output", "Export name", "Value", "Description"], rows),
    )
    return "Outputs", text


# -- 6. provisioning times ------------------------------------------------------------


def provisioning_section(ctx: RunbookContext) -> Section:
    estimate = ctx.provisioning
    times = load_times()
    rows = [
        [f"`{t}`", v if v != "default" else "", n, f"{_minutes(lo)}-{_minutes(hi)}"]
        for t, v, n, lo, hi in estimate.by_kind
    ]
    path_rows = [
        [
            f"`{rid}`",
            f"`{estimate.times[rid].type}`",
            f"{_minutes(estimate.times[rid].low)}-{_minutes(estimate.times[rid].high)}",
        ]
        for rid in estimate.critical_path
    ]
    text = render_chapter(
        "provisioning",
        span=_span(estimate.low_minutes, estimate.high_minutes),
        low=_minutes(estimate.low_minutes),
        high=_minutes(estimate.high_minutes),
        kinds=table(["Resource type", "Variant", "Count", "Minutes each"], rows),
        path=table(["Resource", "Type", "Minutes"], path_rows),
        source=times["source"],
        recorded=times["recorded"],
        unlisted=", ".join(f"`{t}`" for t in estimate.unlisted_types),
        unlisted_low=times["unlisted_minutes"][0],
        unlisted_high=times["unlisted_minutes"][1],
    )
    return "Provisioning times", text


# -- cost --------------------------------------------------------------------------------


def costs_section(ctx: RunbookContext) -> Section:
    estimate = ctx.costs
    rows = []
    for line in estimate.lines:
        rows.append(
            [
                line.item,
                f"{line.quantity.normalize():f}",
                line.unit,
                f"${line.unit_price_usd.normalize():f}" if line.unit_price_usd is not None else "unknown",
                _usd(line.monthly_usd) if line.monthly_usd is not None else "unknown",
                f"`{line.price_reference}`",
                line.basis,
            ]
        )
    others = [s for s in ctx.env.stacks.values() if s.blueprint != ctx.blueprint]
    all_stacks = ""
    if others:
        from streamflix.docs.costs import estimate_stack

        totals = [(s, estimate_stack(s, env=ctx.env)) for s in [ctx.stack, *others]]
        stack_rows = [
            [f"`{s.stack_name}`", s.region, _usd(e.total_usd) + ("" if e.complete else " (incomplete)")]
            for s, e in totals
        ]
        stack_rows.append(["**all stacks**", "", f"**{_usd(sum(e.total_usd for _, e in totals))}**"])
        all_stacks = table(["Stack", "Region", "Monthly"], stack_rows)
    text = render_chapter(
        "costs",
        total=_usd(estimate.total_usd),
        currency=estimate.currency,
        hours=estimate.hours_per_month,
        complete=estimate.complete,
        unknown_count=len(estimate.unknown),
        costs_file=f"{COSTS_DIR}/{ctx.blueprint}.json",
        items=table(["Item", "Quantity", "Unit", "Unit price", "Monthly", "Price entry", "Basis"], rows) if rows else "",
        unknown=estimate.unknown,
        assumptions=table(
            ["Assumption", "Value", "Meaning"],
            [[f"`{a['name']}`", a["value"], a["meaning"]] for a in estimate.assumptions.describe()],
        ),
        not_billed=", ".join(f"{n} × `{t}`" for t, n in estimate.not_billed.items()),
        sources="; ".join(f"{s['source']} ({s['date']})" for s in estimate.sources),
        environment=ctx.environment,
        all_stacks=all_stacks,
    )
    return "Cost estimate", text


# -- the producer --------------------------------------------------------------------------


def produce_runbooks(config, rendered: Sequence, files: Mapping[str, str]) -> dict[str, str]:
    """``runbooks/<stack>.md`` for every stack."""
    env = EnvironmentFacts.build(config, rendered)
    return {
        runbook_path(blueprint): render_runbook(RunbookContext(env=env, blueprint=blueprint, files=files))
        for blueprint in env.stacks
    }
