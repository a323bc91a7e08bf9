"""Integration tests against a deployed HA database stack.

Run after a deploy:
    python build.py outputs --env prod --stack ha-database   # writes cfn-outputs/flat-outputs.json
    STREAMFLIX_ENV=prod python -m pytest tests/integration -m integration
They skip, saying why, when the outputs file is absent or belongs to another stack.
"""

from __future__ import annotations

import os

import boto3
import pytest

from streamflix import load_config
from streamflix.config.naming import stack_name
from streamflix.outputs import DEFAULT_OUTPUTS_FILE, read_flat_outputs
from streamflix.verify import check_alarms, check_cache, check_database, check_exports, check_network

OUTPUTS_FILE = os.environ.get("STREAMFLIX_OUTPUTS", str(DEFAULT_OUTPUTS_FILE))
OUTPUTS = read_flat_outputs(OUTPUTS_FILE)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        OUTPUTS is None,
        reason=f"{OUTPUTS_FILE} not found: deploy the stack, then run "
        "`python build.py outputs --env ENV --stack ha-database` (README: Integration tests)",
    ),
    pytest.mark.skipif(
        OUTPUTS is not None and "DatabaseClusterName" not in OUTPUTS,
        reason=f"{OUTPUTS_FILE} holds another stack's outputs, not ha-database's",
    ),
]


@pytest.fixture(scope="module")
def deployed():
    config = load_config(env=os.environ.get("STREAMFLIX_ENV", "dev"))
    region = config.ha_database.region
    name = os.environ.get("STREAMFLIX_STACK_NAME") or stack_name(config.project, config.environment_suffix, "ha-database")
    return {"region": region, "stack_name": name, "client": lambda service: boto3.client(service, region_name=region)}


def test_network_routes_out_and_data_is_isolated(deployed):
    assert check_network(deployed["client"]("ec2"), OUTPUTS) == []


def test_aurora_cluster_is_available_and_multi_az(deployed):
    assert check_database(deployed["client"]("rds"), OUTPUTS) == []


def test_cache_fails_over_automatically(deployed):
    assert check_cache(deployed["client"]("elasticache"), OUTPUTS) == []


def test_every_output_is_exported(deployed):
    assert check_exports(deployed["client"]("cloudformation"), deployed["stack_name"], OUTPUTS) == []


def test_alarms_notify_the_topic(deployed):
    assert check_alarms(deployed["client"]("cloudwatch"), OUTPUTS, minimum=8) == []
