"""The HA database stack (eu-central-1): the architecture, in the order it is drawn.

    VPC (3 AZs: public / app / data subnets, NAT or endpoints, flow logs)
      -> tier security groups (service -> database, service -> cache)
      -> Aurora PostgreSQL (writer + readers)      } encrypted with the stack key
      -> ElastiCache replication group (Multi-AZ)  }
      -> Kinesis event stream                      }
      -> ECS Fargate service (IAM auth to all three)
      -> alarms + dashboard -> encrypted SNS topic
"""

from __future__ import annotations

from streamflix.config.models import EnvironmentConfig, HaDatabaseStackConfig
from streamflix.constructs.cache import CACHE_TIER, add_cache, watch_cache
from streamflix.constructs.compute import SERVICE_LOG_GROUP, add_fargate_service, watch_service
from streamflix.constructs.database import POSTGRES_PORT
from streamflix.constructs.db_bootstrap import BootstrapTarget, add_database_bootstrap
from streamflix.constructs.database import DATABASE_TIER, add_aurora_cluster, watch_aurora
from streamflix.constructs.keys import add_data_key
from streamflix.constructs.network import add_network
from streamflix.constructs.observability import Monitoring, add_observability
from streamflix.constructs.security_groups import add_tier_security_groups
from streamflix.constructs.streaming import add_event_stream, watch_stream
from streamflix.registry import Blueprint, register
from streamflix.template import StackTemplate, create_template

NAME = "ha-database"
#: Physical names this stack derives from the suffix (bounds its length).
NAME_KEYS = ["aurora_cluster", "cache_group", "cache_app_user", "cache_default_user", "cache_user_group",
             "ecs_cluster", "stream", "dashboard"]


def build(env: EnvironmentConfig, stack: HaDatabaseStackConfig) -> StackTemplate:
    t = create_template(
        env,
        blueprint=NAME,
        region=stack.region,
        description=(
            f"StreamFlix HA database stack ({env.name}, {stack.region}): Aurora PostgreSQL, "
            "ElastiCache, ECS Fargate and Kinesis in a 3-tier VPC, encrypted with a rotating KMS key."
        ),
        name_keys=NAME_KEYS,
    )
    prefix = f"{env.project}-${{EnvironmentSuffix}}"

    key = add_data_key(t, alias=f"{prefix}-ha-data", purpose="HA database stack")
    network = add_network(t, stack.network, name_prefix=prefix, key=key)
    firewall = add_tier_security_groups(t, network, name_prefix=prefix, tiers=[DATABASE_TIER, CACHE_TIER])
    database = add_aurora_cluster(
        t, stack.database, project=env.project, network=network, security_group=firewall.group(DATABASE_TIER), key=key
    )
    cache = add_cache(
        t, stack.cache, project=env.project, network=network, security_group=firewall.group(CACHE_TIER), key=key,
        log_retention_days=stack.compute.log_retention_days,
    )
    stream = add_event_stream(t, stack.streaming, project=env.project, key=key)
    service = add_fargate_service(
        t, stack.compute, project=env.project, subnets=network.app_subnets, egress=network.app_egress,
        security_group=firewall.service, key=key,
        grants=[database.grant_connect(), cache.grant_connect(), stream.grant_write(), key.grant_use()],
        environment={**database.environment(), **cache.environment(), **stream.environment()},
    )
    add_database_bootstrap(
        t,
        BootstrapTarget(host=database.writer_endpoint, port=POSTGRES_PORT, database=stack.database.database_name,
                        app_username=stack.database.app_username, master_secret_arn=database.master_secret_arn),
        project=env.project, key=key, log_group=SERVICE_LOG_GROUP,
    )

    monitoring = Monitoring()
    thresholds = stack.observability.thresholds
    watch_aurora(monitoring, database, thresholds)
    watch_cache(monitoring, cache, thresholds)
    watch_service(monitoring, service)
    watch_stream(monitoring, stream, thresholds)
    add_observability(t, stack.observability, project=env.project, key=key, monitoring=monitoring)

    t.add_output("EnvironmentSuffix", t.suffix.ref(), "Environment suffix used for this deployment")
    return t


BLUEPRINT = register(
    Blueprint(
        name=NAME,
        config_field="ha_database",
        description="HA database stack: VPC, Aurora PostgreSQL, ElastiCache, ECS Fargate, Kinesis, KMS, alarms",
        build=build,
    )
)
