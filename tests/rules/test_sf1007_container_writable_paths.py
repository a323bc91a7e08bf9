"""SF1007: a read-only container can write every path its image writes (issue 11, finding 1).

The bad templates are the failure the review found: nginx with a read-only root file system and
nowhere to write its pid and temp files, or a scratch volume a non-root user cannot write.
"""

from streamflix.testing import Template

RULE = "SF1007"

GOOD = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Metadata:
      StreamFlix:
        ContainerContract:
          app:
            User: '101:101'
            WritablePaths: [/tmp, /var/cache/nginx]
    Properties:
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: '256'
      Memory: '512'
      ContainerDefinitions:
        - Name: volume-owner
          Image: public.ecr.aws/nginx/nginx-unprivileged:1.30.4-alpine-slim
          Essential: false
          ReadonlyRootFilesystem: true
          User: '0'
          EntryPoint: [chown]
          Command: ['101:101', /tmp, /var/cache/nginx]
          MountPoints:
            - {SourceVolume: scratch-tmp, ContainerPath: /tmp, ReadOnly: false}
            - {SourceVolume: scratch-var-cache-nginx, ContainerPath: /var/cache/nginx, ReadOnly: false}
        - Name: app
          Image: public.ecr.aws/nginx/nginx-unprivileged:1.30.4-alpine-slim
          Essential: true
          ReadonlyRootFilesystem: true
          User: '101:101'
          DependsOn:
            - {ContainerName: volume-owner, Condition: SUCCESS}
          MountPoints:
            - {SourceVolume: scratch-tmp, ContainerPath: /tmp, ReadOnly: false}
            - {SourceVolume: scratch-var-cache-nginx, ContainerPath: /var/cache/nginx, ReadOnly: false}
      Volumes:
        - Name: scratch-tmp
        - Name: scratch-var-cache-nginx
"""


def _variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def test_good_task_definition_passes(rule_findings):
    assert rule_findings(GOOD, RULE) == []


def test_a_written_path_without_a_volume_is_refused(rule_findings, line_of):
    # The app no longer mounts /var/cache/nginx: the image's cache root is read-only.
    bad = GOOD.replace(
        "            - {SourceVolume: scratch-var-cache-nginx, ContainerPath: /var/cache/nginx, ReadOnly: false}\n"
        "      Volumes:",
        "      Volumes:",
    )
    findings = rule_findings(bad, RULE)
    assert len(findings) == 1
    assert "writes /var/cache/nginx" in findings[0].message and "no volume is mounted there" in findings[0].message
    assert findings[0].line == line_of(bad, "- Name: app")


def test_stock_nginx_without_a_contract_is_refused(rule_findings):
    bad = _variant("        ContainerContract:\n          app:\n", "        ContainerContract:\n          other:\n")
    findings = rule_findings(bad, RULE)
    assert [f.message for f in findings] == [
        "TaskDefinition container app has a read-only root file system but states no writable paths "
        "(Metadata.StreamFlix.ContainerContract); it may fail at start"
    ]


def test_a_read_only_mount_is_refused(rule_findings):
    bad = GOOD.replace(
        "            - {SourceVolume: scratch-tmp, ContainerPath: /tmp, ReadOnly: false}\n"
        "            - {SourceVolume: scratch-var-cache-nginx, ContainerPath: /var/cache/nginx, ReadOnly: false}\n"
        "      Volumes:",
        "            - {SourceVolume: scratch-tmp, ContainerPath: /tmp, ReadOnly: true}\n"
        "            - {SourceVolume: scratch-var-cache-nginx, ContainerPath: /var/cache/nginx, ReadOnly: false}\n"
        "      Volumes:",
    )
    messages = [f.message for f in rule_findings(bad, RULE)]
    assert messages == ["TaskDefinition container app writes /tmp but its mount is ReadOnly"]


def test_a_mount_of_an_undefined_volume_is_refused(rule_findings):
    bad = _variant("        - Name: scratch-tmp\n", "")
    messages = [f.message for f in rule_findings(bad, RULE)]
    assert messages == ["TaskDefinition container app mounts scratch-tmp at /tmp, a volume the task does not define"]


def test_a_root_owned_scratch_volume_is_refused_for_a_non_root_user(rule_findings):
    # Without the init container dependency the volume stays root:root 0755.
    bad = _variant("          DependsOn:\n            - {ContainerName: volume-owner, Condition: SUCCESS}\n", "")
    messages = [f.message for f in rule_findings(bad, RULE)]
    owned_by_root = [m for m in messages if "belongs to root (mode 0755)" in m]
    assert len(owned_by_root) == 2
    # ...and the init container nobody waits for is an unexplained read-only container.
    assert len(messages) == 3 and any("container volume-owner" in m for m in messages)


def test_a_container_that_may_write_its_root_is_not_judged(rule_findings):
    bad_contract = _variant("        ContainerContract:\n          app:\n", "        ContainerContract:\n          other:\n")
    writable_root = bad_contract.replace(
        "          Essential: true\n          ReadonlyRootFilesystem: true", "          Essential: true"
    )
    assert rule_findings(writable_root, RULE) == []


def test_every_rendered_task_definition_states_and_mounts_its_paths(rendered):
    """The real renders: every writable path of the contract is a scratch volume of the task."""
    for stacks in rendered.values():
        for stack in stacks.values():
            template = Template.from_stack(stack)
            task = template.find_resources("AWS::ECS::TaskDefinition")["TaskDefinition"]
            contract = task["Metadata"]["StreamFlix"]["ContainerContract"]["app"]
            app = next(c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "app")
            mounted = {m["ContainerPath"] for m in app["MountPoints"]}
            assert set(contract["WritablePaths"]) <= mounted
            assert app["ReadonlyRootFilesystem"] is True and app["User"] == contract["User"] != "0"
