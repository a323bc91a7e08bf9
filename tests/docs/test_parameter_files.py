"""Parameter files: every template parameter, with this environment's value, in both CLI forms."""

from __future__ import annotations

import json

import pytest

from streamflix.render import load_template

ENVS = ["dev", "staging", "prod"]


@pytest.mark.parametrize("env", ENVS)
def test_create_stack_file_lists_every_parameter_with_its_default(env, artifacts):
    for blueprint in ("ha-database", "dr-primary"):
        template = load_template(artifacts[env][f"{blueprint}.yaml"])
        parameters = template["Parameters"]
        listed = json.loads(artifacts[env][f"parameters/{blueprint}.json"])
        assert [p["ParameterKey"] for p in listed] == list(parameters)
        for entry in listed:
            assert set(entry) == {"ParameterKey", "ParameterValue"}
            parameter = parameters[entry["ParameterKey"]]
            if "Default" in parameter:
                assert entry["ParameterValue"] == str(parameter["Default"])
            else:  # a deploy-time value the environment must give (prod's alarm topic)
                assert entry["ParameterValue"] == f"<required: {parameter['Description']}>"


@pytest.mark.parametrize("env", ENVS)
def test_deploy_overrides_file_is_the_same_values_as_key_value_strings(env, artifacts):
    create = json.loads(artifacts[env]["parameters/ha-database.json"])
    overrides = json.loads(artifacts[env]["parameters/ha-database.overrides.json"])
    assert overrides == [f"{p['ParameterKey']}={p['ParameterValue']}" for p in create]


def test_the_suffix_value_is_the_environments(artifacts, configs):
    for env in ENVS:
        listed = {
            p["ParameterKey"]: p["ParameterValue"] for p in json.loads(artifacts[env]["parameters/ha-database.json"])
        }
        assert listed["EnvironmentSuffix"] == configs[env].environment_suffix


def test_wired_parameters_get_a_placeholder_cloudformation_refuses(artifacts, dr):
    for env in ENVS:
        recovery = {p["ParameterKey"]: p["ParameterValue"]
                    for p in json.loads(artifacts[env]["parameters/dr-recovery.json"])}
        template = dr[env]["dr-recovery"]
        assert list(recovery) == list(template["Parameters"])
        assert recovery["PrimaryDatabaseInstanceArn"] == "<from dr-primary output DatabaseInstanceArn>"
        # Values with defaults keep them; a placeholder never matches the ARN the parameter expects.
        assert recovery["ServiceTaskCount"] == str(template["Parameters"]["ServiceTaskCount"]["Default"])
        overrides = json.loads(artifacts[env]["parameters/dr-recovery.overrides.json"])
        assert "PrimaryDatabaseInstanceArn=<from dr-primary output DatabaseInstanceArn>" in overrides
