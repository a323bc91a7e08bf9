"""ECS Fargate: cluster with Container Insights, a least-privilege task, an auto-scaled service.

The service runs in the private app subnets, spread over the AZs, with the
deployment circuit breaker rolling back a failed deploy. Permissions come in
as ``grants`` from the constructs that own the resources (CDK style), so this
module never needs to know what a database or a stream is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from awacs import ecr as ecr_actions
from awacs import logs as logs_actions
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, applicationautoscaling as aas, ecs, iam, logs

from streamflix.config.models import ComputeConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.iam_policies import allow, inline_policy, service_trust
from streamflix.constructs.keys import Key
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.template import StackTemplate

ECS_CLUSTER = "EcsCluster"
SERVICE_LOG_GROUP = "ServiceLogGroup"
TASK_EXECUTION_ROLE = "TaskExecutionRole"
TASK_ROLE = "TaskRole"
TASK_DEFINITION = "TaskDefinition"
SERVICE = "Service"
SERVICE_SCALABLE_TARGET = "ServiceScalableTarget"
SERVICE_CPU_SCALING = "ServiceCpuScalingPolicy"

CONTAINER_NAME = "app"
_PRIVATE_ECR = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)")


@dataclass(frozen=True)
class Service:
    cluster_name: Ref
    service_name: GetAtt
    desired_count: int


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
) -> Service:
    cluster = t.add_resource(
        ecs.Cluster(
            ECS_CLUSTER,
            ClusterName=Sub(NAMES["ecs_cluster"].sub_pattern(project)),
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enhanced")],
        )
    )
    log_group = t.add_resource(
        logs.LogGroup(SERVICE_LOG_GROUP, RetentionInDays=cfg.log_retention_days, KmsKeyId=key.arn)
    )

    execution_statements = [
        allow([logs_actions.CreateLogStream, logs_actions.PutLogEvents], [GetAtt(log_group, "Arn")])
    ]
    private_repo = _PRIVATE_ECR.match(cfg.image)
    if private_repo:
        execution_statements.append(
            allow(
                [ecr_actions.BatchGetImage, ecr_actions.GetDownloadUrlForLayer, ecr_actions.BatchCheckLayerAvailability],
                [Sub("arn:${AWS::Partition}:ecr:{region}:{account}:repository/{repo}".format(**private_repo.groupdict()))],
            )
        )
        # GetAuthorizationToken is account-wide by design; it grants no image access by itself.
        execution_statements.append(allow([ecr_actions.GetAuthorizationToken], ["*"]))
    execution_role = t.add_resource(
        iam.Role(
            TASK_EXECUTION_ROLE,
            Description="ECS agent: pull the image and write the service's logs",
            AssumeRolePolicyDocument=service_trust("ecs-tasks.amazonaws.com"),
            Policies=[inline_policy("pull-and-log", execution_statements)],
        )
    )
    task_role = t.add_resource(
        iam.Role(
            TASK_ROLE,
            Description="The application: connect to the database and cache, write events",
            AssumeRolePolicyDocument=service_trust("ecs-tasks.amazonaws.com"),
            Policies=[inline_policy("application", list(grants))],
        )
    )
    task_definition = t.add_resource(
        ecs.TaskDefinition(
            TASK_DEFINITION,
            Family=Sub(f"{NAMES['ecs_cluster'].sub_pattern(project)}-app"),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu=str(cfg.cpu),
            Memory=str(cfg.memory),
            RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture="ARM64", OperatingSystemFamily="LINUX"),
            ExecutionRoleArn=GetAtt(execution_role, "Arn"),
            TaskRoleArn=GetAtt(task_role, "Arn"),
            ContainerDefinitions=[
                ecs.ContainerDefinition(
                    Name=CONTAINER_NAME,
                    Image=cfg.image,
                    Essential=True,
                    ReadonlyRootFilesystem=True,
                    Privileged=False,
                    User="1000",
                    PortMappings=[ecs.PortMapping(ContainerPort=cfg.container_port, Protocol="tcp")],
                    Environment=[
                        ecs.Environment(Name=name, Value=value) for name, value in sorted(environment.items())
                    ],
                    LogConfiguration=ecs.LogConfiguration(
                        LogDriver="awslogs",
                        Options={
                            "awslogs-group": Ref(log_group),
                            "awslogs-region": Ref("AWS::Region"),
                            "awslogs-stream-prefix": CONTAINER_NAME,
                        },
                    ),
                )
            ],
        )
    )
    service = t.add_resource(
        ecs.Service(
            SERVICE,
            Cluster=Ref(cluster),
            LaunchType="FARGATE",
            PlatformVersion="LATEST",
            TaskDefinition=Ref(task_definition),
            DesiredCount=cfg.desired_count,
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
        )
    )
    target = t.add_resource(
        aas.ScalableTarget(
            SERVICE_SCALABLE_TARGET,
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Sub("service/${Cluster}/${ServiceName}", Cluster=Ref(cluster), ServiceName=GetAtt(service, "Name")),
            MinCapacity=cfg.desired_count,
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
    handle = Service(cluster_name=Ref(cluster), service_name=GetAtt(service, "Name"), desired_count=cfg.desired_count)
    t.add_output("EcsClusterName", handle.cluster_name, "ECS cluster name")
    t.add_output("EcsServiceName", handle.service_name, "ECS service name")
    t.add_output("ServiceSecurityGroupId", security_group, "Security group of the service tasks")
    return handle


def watch_service(monitoring: Monitoring, service: Service) -> None:
    dims = (("ClusterName", service.cluster_name), ("ServiceName", service.service_name))
    running = Metric("ECS/ContainerInsights", "RunningTaskCount", dims, "Minimum", 60)
    monitoring.watch(
        "ECS service",
        [MetricAlarm("ServiceRunningTasksAlarm", running, "<", service.desired_count,
                     f"Fewer than {service.desired_count} tasks running (desired count)",
                     evaluation_periods=5, treat_missing_data="breaching")],
        [Metric("AWS/ECS", "CPUUtilization", dims), Metric("AWS/ECS", "MemoryUtilization", dims)],
    )
