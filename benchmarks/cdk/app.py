"""The yardstick: AWS CDK v2 (Python) synthesizing a stack equivalent to our prod HA database stack.

    python benchmarks/cdk/app.py OUTDIR        # jsii runtime type checks on ("validator on")
    python -O benchmarks/cdk/app.py OUTDIR     # off (__debug__ is False)

Same architecture as blueprints/ha_database (prod preset): a 3-AZ VPC with a NAT
gateway per AZ and interface/gateway endpoints, a rotating KMS key, Aurora
PostgreSQL (writer + 2 readers, encrypted, managed secret, deletion protection,
backups 7 days), an ElastiCache Valkey replication group (Multi-AZ, TLS,
encrypted), ECS Fargate behind no load balancer (private), a Kinesis stream,
flow logs, CloudWatch alarms on the database, cache, service and stream, and a
dashboard. Run by benchmarks/run.py in its own virtualenv (aws-cdk-lib,
constructs); node is required by jsii.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import (
    aws_cloudwatch as cw,
    aws_ec2 as ec2,
    aws_ecs as ecs,
    aws_elasticache as elasticache,
    aws_iam as iam,
    aws_kinesis as kinesis,
    aws_kms as kms,
    aws_logs as logs,
    aws_rds as rds,
    aws_sns as sns,
)
from constructs import Construct


class HaDatabaseStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        suffix = cdk.CfnParameter(self, "EnvironmentSuffix", default="prod")
        key = kms.Key(self, "DataKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN)
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key)

        vpc = ec2.Vpc(
            self, "Vpc", ip_addresses=ec2.IpAddresses.cidr("10.20.0.0/16"), max_azs=3, nat_gateways=3,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            flow_logs={"all": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))},
        )
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDkr", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            ("Secrets", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("Kms", ec2.InterfaceVpcEndpointAwsService.KMS),
        ):
            vpc.add_interface_endpoint(name, service=service, subnets=ec2.SubnetSelection(subnet_group_name="app"))

        app_sg = ec2.SecurityGroup(self, "AppSg", vpc=vpc, allow_all_outbound=True)
        db_sg = ec2.SecurityGroup(self, "DbSg", vpc=vpc, allow_all_outbound=False)
        cache_sg = ec2.SecurityGroup(self, "CacheSg", vpc=vpc, allow_all_outbound=False)
        db_sg.add_ingress_rule(app_sg, ec2.Port.tcp(5432))
        cache_sg.add_ingress_rule(app_sg, ec2.Port.tcp(6379))

        params = rds.ParameterGroup(
            self, "DbParams", engine=rds.DatabaseClusterEngine.aurora_postgres(
                version=rds.AuroraPostgresEngineVersion.VER_16_4), parameters={"rds.force_ssl": "1"},
        )
        cluster = rds.DatabaseCluster(
            self, "Aurora",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_16_4),
            writer=rds.ClusterInstance.provisioned("Writer", instance_type=ec2.InstanceType("r6g.large"),
                                                   enable_performance_insights=True,
                                                   performance_insight_encryption_key=key),
            readers=[
                rds.ClusterInstance.provisioned(f"Reader{n}", instance_type=ec2.InstanceType("r6g.large"),
                                                enable_performance_insights=True,
                                                performance_insight_encryption_key=key)
                for n in (1, 2)
            ],
            vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_group_name="data"), security_groups=[db_sg],
            storage_encrypted=True, storage_encryption_key=key, deletion_protection=True,
            backup=rds.BackupProps(retention=cdk.Duration.days(7), preferred_window="03:00-04:00"),
            credentials=rds.Credentials.from_generated_secret("streamflix", encryption_key=key),
            parameter_group=params, iam_authentication=True, cloudwatch_logs_exports=["postgresql"],
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
        )

        cache_subnets = elasticache.CfnSubnetGroup(
            self, "CacheSubnets", description="cache",
            subnet_ids=vpc.select_subnets(subnet_group_name="data").subnet_ids,
        )
        cache = elasticache.CfnReplicationGroup(
            self, "Cache", replication_group_description="cache", engine="valkey", engine_version="8.2",
            cache_node_type="cache.r7g.large", num_node_groups=1, replicas_per_node_group=2,
            automatic_failover_enabled=True, multi_az_enabled=True, at_rest_encryption_enabled=True,
            transit_encryption_enabled=True, kms_key_id=key.key_id, snapshot_retention_limit=5,
            cache_subnet_group_name=cache_subnets.ref, security_group_ids=[cache_sg.security_group_id],
        )
        cache.apply_removal_policy(cdk.RemovalPolicy.SNAPSHOT)

        stream = kinesis.Stream(self, "Events", shard_count=2, encryption=kinesis.StreamEncryption.KMS,
                                encryption_key=key, retention_period=cdk.Duration.hours(168))

        ecs_cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        task = ecs.FargateTaskDefinition(self, "Task", cpu=1024, memory_limit_mib=2048)
        task.add_container(
            "app", image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/nginx:1.27-alpine"),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="app", log_group=logs.LogGroup(
                self, "AppLogs", retention=logs.RetentionDays.ONE_MONTH, encryption_key=key)),
            environment={"DB_HOST": cluster.cluster_endpoint.hostname, "STREAM": stream.stream_name},
            secrets={"DB_SECRET": ecs.Secret.from_secrets_manager(cluster.secret)},
            port_mappings=[ecs.PortMapping(container_port=8080)],
        )
        stream.grant_write(task.task_role)
        task.task_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["rds-db:connect"], resources=[f"arn:aws:rds-db:{self.region}:{self.account}:dbuser:*/app"]))
        service = ecs.FargateService(
            self, "Service", cluster=ecs_cluster, task_definition=task, desired_count=3, security_groups=[app_sg],
            vpc_subnets=ec2.SubnetSelection(subnet_group_name="app"), circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )

        topic = sns.Topic(self, "Alarms", master_key=key)
        alarms = [
            cluster.metric_cpu_utilization().create_alarm(self, "DbCpu", threshold=80, evaluation_periods=3),
            cluster.metric_freeable_memory().create_alarm(
                self, "DbMemory", threshold=256 * 1024 * 1024, evaluation_periods=3,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD),
            cluster.metric_database_connections().create_alarm(self, "DbConnections", threshold=500, evaluation_periods=3),
            service.metric_cpu_utilization().create_alarm(self, "ServiceCpu", threshold=80, evaluation_periods=3),
            service.metric_memory_utilization().create_alarm(self, "ServiceMemory", threshold=80, evaluation_periods=3),
            stream.metric_get_records_iterator_age_milliseconds().create_alarm(
                self, "StreamAge", threshold=60000, evaluation_periods=3),
            cw.Metric(namespace="AWS/ElastiCache", metric_name="CPUUtilization",
                      dimensions_map={"ReplicationGroupId": cache.ref}).create_alarm(
                self, "CacheCpu", threshold=80, evaluation_periods=3),
            cw.Metric(namespace="AWS/ElastiCache", metric_name="CacheMisses",
                      dimensions_map={"ReplicationGroupId": cache.ref}).create_alarm(
                self, "CacheMisses", threshold=10000, evaluation_periods=3),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(cdk.aws_cloudwatch_actions.SnsAction(topic))
        cw.Dashboard(self, "Dashboard", widgets=[[cw.AlarmWidget(alarm=a) for a in alarms[:4]],
                                                 [cw.AlarmWidget(alarm=a) for a in alarms[4:]]])

        for name, value in (
            ("VpcId", vpc.vpc_id), ("DatabaseWriterEndpoint", cluster.cluster_endpoint.hostname),
            ("DatabaseReaderEndpoint", cluster.cluster_read_endpoint.hostname),
            ("DatabaseSecretArn", cluster.secret.secret_arn), ("CacheEndpoint", cache.attr_primary_end_point_address),
            ("StreamName", stream.stream_name), ("ClusterName", ecs_cluster.cluster_name),
            ("EnvironmentSuffixOut", suffix.value_as_string),
        ):
            cdk.CfnOutput(self, name, value=value, export_name=f"{self.stack_name}-{name}")


def main() -> None:
    outdir = sys.argv[1] if len(sys.argv) > 1 else "cdk.out"
    app = cdk.App(outdir=outdir)
    HaDatabaseStack(app, "streamflix-prod-ha-database",
                    env=cdk.Environment(account="123456789012", region="eu-central-1"))
    assembly = app.synth()
    template = assembly.get_stack_by_name("streamflix-prod-ha-database").template
    print(len(template["Resources"]))


if __name__ == "__main__":
    main()
