"""Integration tests against a deployed DR pair (dr-primary + dr-recovery).

Run after deploying the pair (README: Disaster recovery pair), from the repository root:
    python build.py outputs --env prod --stack dr-primary --file cfn-outputs/dr-primary.json
    python build.py outputs --env prod --stack dr-recovery --file cfn-outputs/dr-recovery.json
    STREAMFLIX_ENV=prod python -m pytest tests/integration/test_dr_pair_deployed.py -m integration
During a DR drill, after the failover phases, run them again with STREAMFLIX_DR_PROMOTED=1: the
recovery side must then be a standalone writer serving traffic, in the recovery region. The
checks against the recovery stack run in its region; those that need the primary's outputs
(and an answering primary region) skip, saying so, when its file is absent.
"""

from __future__ import annotations

import os

import boto3
import pytest

from streamflix import load_config
from streamflix.config.naming import stack_name
from streamflix.outputs import read_flat_outputs
from streamflix.verify import check_alarms, check_exports
from streamflix.verify_dr import (
    DR_OUTPUT_FILES,
    check_failover_health_check,
    check_file_replication,
    check_primary_database,
    check_recovery_database,
    check_service,
    check_targets,
)

PRIMARY_FILE = os.environ.get("STREAMFLIX_DR_PRIMARY_OUTPUTS", str(DR_OUTPUT_FILES["dr-primary"]))
RECOVERY_FILE = os.environ.get("STREAMFLIX_DR_RECOVERY_OUTPUTS", str(DR_OUTPUT_FILES["dr-recovery"]))
PRIMARY = read_flat_outputs(PRIMARY_FILE)
RECOVERY = read_flat_outputs(RECOVERY_FILE)
PROMOTED = os.environ.get("STREAMFLIX_DR_PROMOTED") == "1"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        RECOVERY is None,
        reason=f"{RECOVERY_FILE} not found: deploy the DR pair, then run `python build.py outputs --env ENV "
        f"--stack dr-recovery --file {RECOVERY_FILE}` (and the same for dr-primary) (README: Disaster recovery pair)",
    ),
    pytest.mark.skipif(
        RECOVERY is not None and "ReplicaInstanceIdentifier" not in RECOVERY,
        reason=f"{RECOVERY_FILE} holds another stack's outputs, not dr-recovery's",
    ),
]

needs_primary = pytest.mark.skipif(
    PRIMARY is None or "DatabaseInstanceIdentifier" not in (PRIMARY or {}),
    reason=f"{PRIMARY_FILE} not found or not dr-primary's outputs: `python build.py outputs --env ENV "
    f"--stack dr-primary --file {PRIMARY_FILE}`",
)


@pytest.fixture(scope="module")
def pair():
    config = load_config(env=os.environ.get("STREAMFLIX_ENV", "dev"))
    dr = config.dr
    if dr is None:
        pytest.skip(f"environment {config.name} has no dr section")

    def client(region):
        return lambda service: boto3.client(service, region_name=region)

    return {
        "primary": client(dr.primary_region),
        "recovery": client(dr.recovery_region),
        "recovery_stack": os.environ.get("STREAMFLIX_DR_RECOVERY_STACK_NAME")
        or stack_name(config.project, config.environment_suffix, "dr-recovery"),
        "serving_count": dr.compute.desired_count,
    }


def test_recovery_database_is_a_replica_or_promoted(pair):
    assert check_recovery_database(pair["recovery"]("rds"), RECOVERY, promoted=PROMOTED) == []


def test_recovery_service_runs_and_targets_are_healthy(pair):
    minimum = pair["serving_count"] if PROMOTED else 1
    assert check_service(pair["recovery"]("ecs"), RECOVERY, minimum=minimum) == []
    assert check_targets(pair["recovery"]("elbv2"), RECOVERY) == []


def test_route53_health_check_matches_the_side_that_serves(pair):
    assert check_failover_health_check(pair["recovery"]("route53"), RECOVERY, promoted=PROMOTED) == []


def test_recovery_outputs_are_exported(pair):
    assert check_exports(pair["recovery"]("cloudformation"), pair["recovery_stack"], RECOVERY) == []


def test_recovery_alarms_notify_the_topic(pair):
    assert check_alarms(pair["recovery"]("cloudwatch"), RECOVERY, minimum=5) == []


@needs_primary
def test_primary_database_replicates_across_regions(pair):
    if PROMOTED:
        pytest.skip("after a promotion the primary no longer lists the replica")
    assert check_primary_database(pair["primary"]("rds"), PRIMARY) == []


@needs_primary
def test_files_replicate_until_failover(pair):
    assert check_file_replication(pair["primary"]("efs"), PRIMARY, promoted=PROMOTED) == []
