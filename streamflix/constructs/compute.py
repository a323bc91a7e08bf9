"""ECS Fargate: cluster with Container Insights, a least-privilege task, an auto-scaled service.

The service runs in the private app subnets, spread over the AZs, with the
deployment circuit breaker rolling back a failed deploy. Permissions come in
as ``grants`` from the constructs that own the resources (CDK style), so this
module never needs to know what a database or a stream is. Optionally the
service sits behind a load balancer's target group and mounts EFS volumes;
both arrive as small specs (``LoadBalancerTarget``, ``EfsVolume``) that the
owning constructs build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from awacs import ecr as ecr_actions
from awacs import logs as logs_actions
from awacs.aws import Statement
from troposphere import GetAtt, Parameter, Ref, Sub, applicationautoscaling as aas, ecs, iam, logs

from streamflix.config.models import ComputeConfig, ContainerConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.iam_policies import allow, inline_policy, service_trust
from streamflix.constructs.keys import Key
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.template import StackTemplate, protect

ECS_CLUSTER = "EcsCluster"
SERVICE_LOG_GROUP = "ServiceLogGroup"
TASK_EXECUTION_ROLE = "TaskExecutionRole"
TASK_ROLE = "TaskRole"
TASK_DEFINITION = "TaskDefinition"
SERVICE = "Service"
SERVICE_SCALABLE_TARGET = "ServiceScalableTarget"
SERVICE_CPU_SCALING = "ServiceCpuScalingPolicy"

CONTAINER_NAME = "app"
#: The init container that hands the task's scratch volumes to the app's uid/gid. Fargate
#: creates bind-mount volumes owned by root with mode 0755 (ECS developer guide, "Use bind
#: mounts with Amazon ECS": "By default, the volume permissions are set to 0755 and the owner
#: as root"), so a non-root app could not write them; this container runs once, as root with
#: every capability but CHOWN dropped, chowns them and exits before the app starts.
VOLUME_OWNER_CONTAINER = "volume-owner"
#: Deploy-time parameter holding the image (default: the config's container.image).
IMAGE_PARAMETER = "ContainerImage"
#: Docker's default capability set (moby's oci/caps/defaults.go); the init container keeps CHOWN only.
_DEFAULT_CAPABILITIES = (
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)
_PRIVATE_ECR = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)")


@dataclass(frozen=True)
class Service:
    cluster_name: Ref
    service_name: GetAtt
    desired_count: int


@dataclass(frozen=True)
class LoadBalancerTarget:
    """Where the service registers its tasks: a target group and the listener that makes it live.

    ECS refuses a target group that no listener forwards to yet, hence ``listener``
    (a logical ID the service depends on).
    """

    target_group_arn: Ref
    listener: str
    health_check_grace_seconds: int = 60


@dataclass(frozen=True)
class EfsVolume:
    """An EFS mount for the task: always over TLS and with the task role's IAM identity.

    ``access_point_id`` confines the task to the access point's root and POSIX
    identity; without one, ``root_directory`` chooses the directory mounted.
    ``depends_on`` are the logical IDs (mount targets) that must exist first.
    """

    name: str
    file_system_id: Any
    container_path: str
    access_point_id: Any = None
    root_directory: str | None = None
    depends_on: tuple[str, ...] = ()


def add_fargate_service(
    t: StackTemplate,
    cfg: ComputeConfig,
    *,
    project: str,
    subnets: Sequence[Any],
    security_group: Ref,
    key: Key,
    grants: Sequence[Statement],
    environment: Mapping[str, Any],
    load_balancer: LoadBalancerTarget | None = None,
    volumes: Sequence[EfsVolume] = (),
    desired_count: Any = None,
    role_purpose: str = "connect to the database and cache, write events",
    egress: Sequence[str] = (),
) -> Service:
    """The cluster, roles, task definition and an auto-scaled service.

    ``desired_count`` overrides ``cfg.desired_count`` (e.g. with a parameter, so
    a recovery stack can be scaled up by a stack update); it is also the
    auto-scaling minimum. ``role_purpose`` completes the task role's description
    ("The application: ...") and should say what ``grants`` allow. ``egress`` are the
    logical IDs that give ``subnets`` their way out (``Network.app_egress``): the service
    DependsOn them, so its tasks start only once they can pull the image and reach AWS,
    and on delete the routes and endpoints go only after the tasks have stopped (SF3006).
    """
    tasks = cfg.desired_count if desired_count is None else desired_count
    cluster = _add_cluster(t, project)
    log_group = _add_log_group(t, cfg, key)
    task_definition = _add_task_definition(
        t,
        cfg,
        project=project,
        execution_role=_add_execution_role(t, cfg.container, log_group),
        task_role=_add_task_role(t, role_purpose, grants),
        volumes=volumes,
        environment=environment,
        log_group=log_group,
    )
    _note_image_pinned_by_tag(t, cfg.container)
    service = _add_service(
        t,
        cluster,
        task_definition,
        tasks=tasks,
        subnets=subnets,
        security_group=security_group,
        registration=_load_balancer_registration(load_balancer, cfg.container),
        depends_on=_service_dependencies(egress, volumes, load_balancer),
    )
    _add_cpu_auto_scaling(t, cfg, cluster, service, minimum=tasks)
    handle = Service(cluster_name=Ref(cluster), service_name=GetAtt(service, "Name"), desired_count=cfg.desired_count)
    _add_outputs(t, handle, security_group)
    return handle


def _add_cluster(t: StackTemplate, project: str) -> ecs.Cluster:
    return t.add_resource(
        ecs.Cluster(
            ECS_CLUSTER,
            ClusterName=Sub(NAMES["ecs_cluster"].sub_pattern(project)),
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enhanced")],
        )
    )


def _add_log_group(t: StackTemplate, cfg: ComputeConfig, key: Key) -> logs.LogGroup:
    log_group = t.add_resource(
        logs.LogGroup(SERVICE_LOG_GROUP, RetentionInDays=cfg.log_retention_days, KmsKeyId=key.arn)
    )
    # The service's logs outlive a delete or a replacement (a failed create still removes it).
    protect(log_group, "Retain")
    return log_group


def _add_execution_role(t: StackTemplate, contract: ContainerConfig, log_group: logs.LogGroup) -> iam.Role:
    """The role the ECS agent uses: write the service's logs and, for a private ECR image, pull it."""
    return t.add_resource(
        iam.Role(
            TASK_EXECUTION_ROLE,
            Description="ECS agent: pull the image and write the service's logs",
            AssumeRolePolicyDocument=service_trust("ecs-tasks.amazonaws.com"),
            Policies=[inline_policy("pull-and-log", _pull_and_log_statements(contract.image, log_group))],
        )
    )


def _pull_and_log_statements(image: str, log_group: logs.LogGroup) -> list[Statement]:
    statements = [allow([logs_actions.CreateLogStream, logs_actions.PutLogEvents], [GetAtt(log_group, "Arn")])]
    private_repo = _PRIVATE_ECR.match(image)
    if private_repo:
        statements.append(
            allow(
                [ecr_actions.BatchGetImage, ecr_actions.GetDownloadUrlForLayer, ecr_actions.BatchCheckLayerAvailability],
                [Sub("arn:${AWS::Partition}:ecr:" + "{region}:{account}:repository/{repo}".format(**private_repo.groupdict()))],
            )
        )
        # GetAuthorizationToken is account-wide by design; it grants no image access by itself.
        statements.append(allow([ecr_actions.GetAuthorizationToken], ["*"]))
    return statements


def _add_task_role(t: StackTemplate, role_purpose: str, grants: Sequence[Statement]) -> iam.Role:
    """The application's own role: exactly the ``grants`` the owning constructs handed in."""
    return t.add_resource(
        iam.Role(
            TASK_ROLE,
            Description=f"The application: {role_purpose}",
            AssumeRolePolicyDocument=service_trust("ecs-tasks.amazonaws.com"),
            Policies=[inline_policy("application", list(grants))],
        )
    )


def _add_task_definition(
    t: StackTemplate,
    cfg: ComputeConfig,
    *,
    project: str,
    execution_role: iam.Role,
    task_role: iam.Role,
    volumes: Sequence[EfsVolume],
    environment: Mapping[str, Any],
    log_group: logs.LogGroup,
) -> ecs.TaskDefinition:
    """An ARM64 Fargate task: the app container, its init containers and volumes, recording its contract."""
    contract = cfg.container
    image = _add_image_parameter(t, contract)
    app_container, init_containers, task_volumes = _containers(
        contract, image=image, volumes=volumes, environment=environment, log_group=Ref(log_group)
    )
    return t.add_resource(
        ecs.TaskDefinition(
            TASK_DEFINITION,
            Metadata={"StreamFlix": {"ContainerContract": {CONTAINER_NAME: contract_metadata(contract)}}},
            Family=Sub(f"{NAMES['ecs_cluster'].sub_pattern(project)}-app"),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu=str(cfg.cpu),
            Memory=str(cfg.memory),
            RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture="ARM64", OperatingSystemFamily="LINUX"),
            ExecutionRoleArn=GetAtt(execution_role, "Arn"),
            TaskRoleArn=GetAtt(task_role, "Arn"),
            ContainerDefinitions=[*init_containers, app_container],
            Volumes=task_volumes,
        )
    )


def _note_image_pinned_by_tag(t: StackTemplate, contract: ContainerConfig) -> None:
    if not contract.pinned_by_digest:
        t.add_security_note(
            f"The container image {contract.image} is pinned by tag only: a tag can be moved to another image. "
            "Read its digest (`docker buildx imagetools inspect` or `crane digest`) and set "
            "compute.container.image to <image>@sha256:<digest> (or pass it as the ContainerImage parameter)."
        )


def _load_balancer_registration(load_balancer: LoadBalancerTarget | None, contract: ContainerConfig) -> dict[str, Any]:
    """The service properties that register its tasks with the target group (none without a load balancer)."""
    if load_balancer is None:
        return {}
    return {
        "LoadBalancers": [
            ecs.LoadBalancer(
                ContainerName=CONTAINER_NAME,
                ContainerPort=contract.port,
                TargetGroupArn=load_balancer.target_group_arn,
            )
        ],
        "HealthCheckGracePeriodSeconds": load_balancer.health_check_grace_seconds,
    }


def _service_dependencies(
    egress: Sequence[str], volumes: Sequence[EfsVolume], load_balancer: LoadBalancerTarget | None
) -> list[str]:
    """What must exist before the first task starts: its way out, its mount targets, the live listener."""
    depends_on = [*egress, *(name for volume in volumes for name in volume.depends_on)]
    if load_balancer is not None:
        depends_on.append(load_balancer.listener)
    return list(dict.fromkeys(depends_on))


def _add_service(
    t: StackTemplate,
    cluster: ecs.Cluster,
    task_definition: ecs.TaskDefinition,
    *,
    tasks: Any,
    subnets: Sequence[Any],
    security_group: Ref,
    registration: dict[str, Any],
    depends_on: list[str],
) -> ecs.Service:
    """Private tasks (no public IP); the circuit breaker rolls back a deploy that never gets healthy."""
    attributes: dict[str, Any] = {"DependsOn": depends_on} if depends_on else {}
    return t.add_resource(
        ecs.Service(
            SERVICE,
            Cluster=Ref(cluster),
            LaunchType="FARGATE",
            PlatformVersion="LATEST",
            TaskDefinition=Ref(task_definition),
            DesiredCount=tasks,
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            DeploymentConfiguration=ecs.DeploymentConfiguration(
                DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                MinimumHealthyPercent=100,
                MaximumPercent=200,
            ),
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    AssignPublicIp="DISABLED", Subnets=list(subnets), SecurityGroups=[security_group]
                )
            ),
            **registration,
            **attributes,
        )
    )


def _add_cpu_auto_scaling(
    t: StackTemplate, cfg: ComputeConfig, cluster: ecs.Cluster, service: ecs.Service, *, minimum: Any
) -> None:
    """Target tracking on average CPU, between ``minimum`` and ``cfg.max_count`` tasks."""
    target = t.add_resource(
        aas.ScalableTarget(
            SERVICE_SCALABLE_TARGET,
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Sub("service/${Cluster}/${ServiceName}", Cluster=Ref(cluster), ServiceName=GetAtt(service, "Name")),
            MinCapacity=minimum,
            MaxCapacity=cfg.max_count,
        )
    )
    t.add_resource(
        aas.ScalingPolicy(
            SERVICE_CPU_SCALING,
            PolicyName="cpu-target-tracking",
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(target),
            TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
                TargetValue=float(cfg.cpu_target_percent),
                PredefinedMetricSpecification=aas.PredefinedMetricSpecification(
                    PredefinedMetricType="ECSServiceAverageCPUUtilization"
                ),
                ScaleInCooldown=300,
                ScaleOutCooldown=60,
            ),
        )
    )


def _add_outputs(t: StackTemplate, handle: Service, security_group: Ref) -> None:
    t.add_output("EcsClusterName", handle.cluster_name, "ECS cluster name")
    t.add_output("EcsServiceName", handle.service_name, "ECS service name")
    t.add_output("ServiceSecurityGroupId", security_group, "Security group of the service tasks")


def contract_metadata(contract: ContainerConfig) -> dict[str, Any]:
    """The contract as the template records it (``Metadata.StreamFlix.ContainerContract``), for SF1007 and runbooks."""
    return {
        "Image": contract.image,
        "Port": contract.port,
        "User": contract.user,
        "WritablePaths": list(contract.writable_paths),
        "HealthCheckPath": contract.health_check.path,
    }


def scratch_volume_name(path: str) -> str:
    """'/var/cache/nginx' -> 'scratch-var-cache-nginx' (stable: derived from the path, not a position)."""
    return "scratch-" + re.sub(r"[^A-Za-z0-9]+", "-", path.strip("/")).strip("-").lower()


def _add_image_parameter(t: StackTemplate, contract: ContainerConfig) -> Ref:
    """The image as a deploy-time parameter: another tag or digest of the config's repository.

    The repository is fixed because it decides the execution role's pull permissions
    (a private ECR repository is granted by name); a new release is a parameter change.
    """
    # Only '.' is special among the characters an image name may hold (IMAGE_PATTERN).
    repository = contract.repository.replace(".", r"\.")
    parameter = t.add_parameter(
        Parameter(
            IMAGE_PARAMETER,
            Type="String",
            Default=contract.image,
            AllowedPattern=rf"^{repository}(:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(@sha256:[0-9a-f]{{64}})?$",
            ConstraintDescription=f"{contract.repository} with a tag and/or an @sha256 digest",
            Description=(
                f"Container image ({contract.repository}:<tag> or @sha256:<digest>). It must honour the "
                f"contract: listen on {contract.port}, run as {contract.user}, write only to "
                f"{', '.join(contract.writable_paths) or 'its volumes'}."
            ),
        ),
        group="Service",
        label="Container image",
    )
    return Ref(parameter)


def _containers(
    contract: ContainerConfig,
    *,
    image: Ref,
    volumes: Sequence[EfsVolume],
    environment: Mapping[str, Any],
    log_group: Ref,
) -> tuple[ecs.ContainerDefinition, list[ecs.ContainerDefinition], list[ecs.Volume]]:
    """The app container, the init containers it waits for, and the task's volumes.

    Each writable path gets a scratch volume of its own (the root file system is read-only);
    while there are any, the volume-owner container must hand them to the app's user first.
    """
    scratch = [(scratch_volume_name(path), path) for path in contract.writable_paths]
    task_volumes = [ecs.Volume(Name=name) for name, _ in scratch] + [_efs_volume(volume) for volume in volumes]
    scratch_mounts = [_writable_mount(name, path) for name, path in scratch]
    efs_mounts = [_writable_mount(volume.name, volume.container_path) for volume in volumes]
    init = [_volume_owner_container(contract, image, scratch_mounts, log_group)] if scratch else []
    app = _app_container(
        contract,
        image=image,
        environment=environment,
        log_group=log_group,
        mounts=scratch_mounts + efs_mounts,
        waits_for_volume_owner=bool(init),
    )
    return app, init, task_volumes


def _writable_mount(volume_name: str, path: str) -> ecs.MountPoint:
    return ecs.MountPoint(SourceVolume=volume_name, ContainerPath=path, ReadOnly=False)


def awslogs(log_group: Ref, stream_prefix: str) -> ecs.LogConfiguration:
    """A container's logs into ``log_group`` (a Ref), one stream per task under ``stream_prefix``."""
    return ecs.LogConfiguration(
        LogDriver="awslogs",
        Options={"awslogs-group": log_group, "awslogs-region": Ref("AWS::Region"), "awslogs-stream-prefix": stream_prefix},
    )


def locked_down_container(
    name: str, image: Ref, *, essential: bool, user: str, **properties: Any
) -> ecs.ContainerDefinition:
    """A container as every task here runs it: read-only root file system, never privileged, an explicit user."""
    return ecs.ContainerDefinition(
        Name=name,
        Image=image,
        Essential=essential,
        ReadonlyRootFilesystem=True,
        Privileged=False,
        User=user,
        **properties,
    )


def _volume_owner_container(
    contract: ContainerConfig, image: Ref, scratch_mounts: list[ecs.MountPoint], log_group: Ref
) -> ecs.ContainerDefinition:
    """The init container (``VOLUME_OWNER_CONTAINER``): chown the scratch volumes to the app's user, then exit."""
    return locked_down_container(
        VOLUME_OWNER_CONTAINER,
        image,
        essential=False,
        user="0",
        EntryPoint=["chown"],
        Command=[contract.user, *contract.writable_paths],
        MountPoints=scratch_mounts,
        LinuxParameters=ecs.LinuxParameters(
            Capabilities=ecs.KernelCapabilities(Drop=[c for c in _DEFAULT_CAPABILITIES if c != "CHOWN"])
        ),
        LogConfiguration=awslogs(log_group, VOLUME_OWNER_CONTAINER),
    )


def _app_container(
    contract: ContainerConfig,
    *,
    image: Ref,
    environment: Mapping[str, Any],
    log_group: Ref,
    mounts: list[ecs.MountPoint],
    waits_for_volume_owner: bool,
) -> ecs.ContainerDefinition:
    """The application as its contract states it: its user, its port, its health check, a read-only root."""
    extras: dict[str, Any] = {}
    if waits_for_volume_owner:
        extras["DependsOn"] = [ecs.ContainerDependency(ContainerName=VOLUME_OWNER_CONTAINER, Condition="SUCCESS")]
    if mounts:
        extras["MountPoints"] = mounts
    return locked_down_container(
        CONTAINER_NAME,
        image,
        essential=True,
        user=contract.user,
        PortMappings=[ecs.PortMapping(ContainerPort=contract.port, Protocol="tcp")],
        HealthCheck=_container_health_check(contract),
        Environment=[ecs.Environment(Name=name, Value=value) for name, value in sorted(environment.items())],
        LogConfiguration=awslogs(log_group, CONTAINER_NAME),
        **extras,
    )


def _container_health_check(contract: ContainerConfig) -> ecs.HealthCheck:
    check = contract.health_check
    return ecs.HealthCheck(
        Command=["CMD-SHELL", check.rendered_command(contract.port)],
        Interval=check.interval_seconds,
        Timeout=check.timeout_seconds,
        Retries=check.retries,
        StartPeriod=check.start_period_seconds,
    )


def _efs_volume(volume: EfsVolume) -> ecs.Volume:
    config: dict[str, Any] = {
        "FilesystemId": volume.file_system_id,
        "TransitEncryption": "ENABLED",
        "AuthorizationConfig": ecs.AuthorizationConfig(
            IAM="ENABLED", **({"AccessPointId": volume.access_point_id} if volume.access_point_id is not None else {})
        ),
    }
    if volume.root_directory is not None:
        config["RootDirectory"] = volume.root_directory
    return ecs.Volume(Name=volume.name, EFSVolumeConfiguration=ecs.EFSVolumeConfiguration(**config))


def watch_service(monitoring: Monitoring, service: Service, *, floor: int | None = None) -> None:
    """Page when fewer than ``floor`` tasks run (default: the desired count).

    A floor of 1 is the "service is down" alarm, for services whose size changes
    (a warm standby scaled up at failover).
    """
    minimum = service.desired_count if floor is None else floor
    dims = (("ClusterName", service.cluster_name), ("ServiceName", service.service_name))
    running = Metric("ECS/ContainerInsights", "RunningTaskCount", dims, "Minimum", 60)
    described = "(desired count)" if floor is None else "(the service is down)" if minimum == 1 else ""
    monitoring.watch(
        "ECS service",
        [MetricAlarm("ServiceRunningTasksAlarm", running, "<", minimum,
                     f"Fewer than {minimum} tasks running {described}".rstrip(),
                     evaluation_periods=5, treat_missing_data="breaching")],
        [Metric("AWS/ECS", "CPUUtilization", dims), Metric("AWS/ECS", "MemoryUtilization", dims)],
    )
