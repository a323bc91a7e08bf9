"""The container contract (issue 11, findings 1 and 5): the default image runs as configured.

Every test reads the rendered templates: the image is a parameter defaulting from the config,
the task gives each written path a volume owned by the container's user, and the container's
health check, the target group and the Route 53 check probe the same port and path.
"""

from __future__ import annotations

import re

import pytest

from streamflix import parse_config, render_environment
from streamflix.config.models import DEFAULT_CONTAINER_IMAGE, DEFAULT_WRITABLE_PATHS
from streamflix.errors import ConfigError
from streamflix.testing import Template

STACKS = ("ha-database", "dr-primary", "dr-recovery")


def _containers(template: Template) -> dict[str, dict]:
    task = template.find_resources("AWS::ECS::TaskDefinition")["TaskDefinition"]
    return {c["Name"]: c for c in task["Properties"]["ContainerDefinitions"]}


@pytest.mark.parametrize("stack", STACKS)
def test_image_is_a_parameter_defaulting_from_the_config(rendered, configs, stack):
    for env, stacks in rendered.items():
        template = Template.from_stack(stacks[stack])
        section = configs[env].ha_database if stack == "ha-database" else configs[env].dr
        parameter = template.body["Parameters"]["ContainerImage"]
        assert parameter["Default"] == section.compute.container.image
        # Another tag or digest of the same repository passes; another repository does not.
        pattern = re.compile(parameter["AllowedPattern"])
        assert pattern.match("public.ecr.aws/nginx/nginx-unprivileged:1.30.5-alpine-slim")
        assert pattern.match("public.ecr.aws/nginx/nginx-unprivileged@sha256:" + "a" * 64)
        assert not pattern.match("public.ecr.aws/docker/library/nginx:1.30.4-alpine")
        for container in _containers(template).values():
            assert container["Image"] == {"Ref": "ContainerImage"}


def test_the_default_image_is_the_unprivileged_nginx_on_a_supported_line(configs):
    contract = configs["prod"].dr.compute.container
    assert contract.image == DEFAULT_CONTAINER_IMAGE == "public.ecr.aws/nginx/nginx-unprivileged:1.30.4-alpine-slim"
    # What its Dockerfile says (see DEFAULT_CONTAINER_IMAGE): listens on 8080, USER 101, writes /tmp.
    assert (contract.port, contract.uid, contract.gid) == (8080, 101, 101)
    assert tuple(contract.writable_paths) == DEFAULT_WRITABLE_PATHS == ("/tmp", "/var/cache/nginx")


@pytest.mark.parametrize("stack", STACKS)
def test_app_runs_as_the_contract_with_owned_scratch_volumes(rendered, stack):
    template = Template.from_stack(rendered["prod"][stack])
    containers = _containers(template)
    app, owner = containers["app"], containers["volume-owner"]
    assert app["User"] == "101:101" and app["ReadonlyRootFilesystem"] is True
    assert app["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert app["DependsOn"] == [{"ContainerName": "volume-owner", "Condition": "SUCCESS"}]
    # The init container hands every scratch volume to 101:101, keeping only CAP_CHOWN.
    assert owner["Essential"] is False and owner["User"] == "0" and owner["ReadonlyRootFilesystem"] is True
    assert owner["EntryPoint"] == ["chown"] and owner["Command"] == ["101:101", "/tmp", "/var/cache/nginx"]
    assert "CHOWN" not in owner["LinuxParameters"]["Capabilities"]["Drop"]
    assert {"SETUID", "NET_RAW", "DAC_OVERRIDE"} <= set(owner["LinuxParameters"]["Capabilities"]["Drop"])
    volumes = {v["Name"]: v for v in template.find_resources("AWS::ECS::TaskDefinition")["TaskDefinition"]["Properties"]["Volumes"]}
    for mount in owner["MountPoints"]:
        assert volumes[mount["SourceVolume"]] == {"Name": mount["SourceVolume"]}  # Fargate scratch (bind) volume
        assert mount in app["MountPoints"]


@pytest.mark.parametrize("stack", ("dr-primary", "dr-recovery"))
def test_health_checks_agree_with_the_contract(dr_variant_stacks, stack):
    template = Template.from_stack(dr_variant_stacks[stack])
    app = _containers(template)["app"]
    assert app["HealthCheck"]["Command"] == ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"]
    group = next(iter(template.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()))["Properties"]
    assert (group["Port"], group["HealthCheckPath"]) == (8080, "/")
    service = template.find_resources("AWS::ECS::Service")["Service"]["Properties"]
    assert service["LoadBalancers"][0]["ContainerPort"] == 8080
    if stack == "dr-recovery":
        check = template.find_resources("AWS::Route53::HealthCheck")["PrimaryHealthCheck"]["Properties"]
        assert check["HealthCheckConfig"]["ResourcePath"] == "/"


def test_a_custom_path_moves_every_check(tmp_path):
    config = parse_config(
        "name: custom\ntier: dev\nenvironment_suffix: cu\n"
        "dr:\n  compute:\n    container:\n      port: 9000\n      health_check: {path: /healthz}\n",
        source="custom.yaml",
    )
    stacks = {s.blueprint: Template.from_stack(s) for s in render_environment(config)}
    app = _containers(stacks["dr-primary"])["app"]
    assert app["HealthCheck"]["Command"][1] == "wget -q -O /dev/null http://127.0.0.1:9000/healthz || exit 1"
    group = next(iter(stacks["dr-primary"].find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()))
    assert (group["Properties"]["Port"], group["Properties"]["HealthCheckPath"]) == (9000, "/healthz")


def test_efs_access_point_enforces_the_container_identity(rendered):
    template = Template.from_stack(rendered["prod"]["dr-primary"])
    point = template.find_resources("AWS::EFS::AccessPoint")["FileSystemAccessPoint"]["Properties"]
    assert point["PosixUser"] == {"Uid": "101", "Gid": "101"}
    assert point["RootDirectory"]["CreationInfo"]["OwnerUid"] == "101"


def test_a_tag_pinned_image_is_recorded_as_a_security_note(rendered):
    notes = Template.from_stack(rendered["dev"]["ha-database"]).body["Metadata"]["StreamFlix"]["SecurityNotes"]
    assert any("pinned by tag only" in note and "@sha256" in note for note in notes)


def test_a_digest_pinned_image_has_no_note():
    digest = "public.ecr.aws/nginx/nginx-unprivileged:1.30.4-alpine-slim@sha256:" + "0" * 64
    config = parse_config(
        f"name: pinned\ntier: dev\nenvironment_suffix: pin\nha_database:\n  compute:\n    container:\n      image: {digest}\n",
        source="pinned.yaml",
    )
    (stack,) = render_environment(config)
    metadata = Template.from_stack(stack).body["Metadata"]["StreamFlix"]
    assert not any("pinned by tag only" in note for note in metadata.get("SecurityNotes", []))


def test_a_private_ecr_image_lets_the_execution_role_pull_from_that_repository_only():
    """An image in a private ECR repository renders (the ARN's ${AWS::Partition} once broke the
    build) and the execution role may pull from that one repository, not from every one."""
    image = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/streamflix/app:1.4.2"
    config = parse_config(
        f"name: private\ntier: dev\nenvironment_suffix: prv\nha_database:\n  compute:\n    container:\n      image: {image}\n",
        source="private.yaml",
    )
    (stack,) = render_environment(config)
    role = Template.from_stack(stack).find_resources("AWS::IAM::Role")["TaskExecutionRole"]
    statements = [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    pull = next(s for s in statements if "ecr:BatchGetImage" in s["Action"])
    assert pull["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:ecr:eu-central-1:123456789012:repository/streamflix/app"}]
    token = next(s for s in statements if "ecr:GetAuthorizationToken" in s["Action"])
    assert token["Resource"] == ["*"] and token["Action"] == ["ecr:GetAuthorizationToken"]


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ("health_check: {command: 'curl -f http://localhost/'}", "ha_database.compute.container.health_check.command"),
        ("writable_paths: [/tmp, /tmp/cache]", "/tmp/cache is inside /tmp"),
        ("writable_paths: [/proc]", "cannot be a task volume"),
        ("writable_paths: [/var/cache, /var-cache]", "would share one task volume name"),
        ("uid: 0", "ha_database.compute.container.uid"),
        ("port: 80", "ha_database.compute.container.port"),
        ("image: 'nginx:latest latest'", "ha_database.compute.container.image"),
    ],
)
def test_contract_refusals_name_the_field(container, expected):
    text = f"name: bad\ntier: dev\nenvironment_suffix: bad\nha_database:\n  compute:\n    container:\n      {container}\n"
    with pytest.raises(ConfigError) as error:
        parse_config(text, source="bad.yaml")
    assert expected in str(error.value)


def test_scratch_volume_may_not_hide_the_shared_files():
    text = "name: bad\ntier: dev\nenvironment_suffix: bad\ndr:\n  compute:\n    container:\n      writable_paths: [/mnt]\n"
    with pytest.raises(ConfigError) as error:
        parse_config(text, source="bad.yaml")
    assert "dr.compute.container.writable_paths" in str(error.value) and "/mnt/shared" in str(error.value)
