"""SF1007: a container with a read-only root file system can write every path its image writes.

AWS ECS task definition reference, ``readonlyRootFilesystem``: "When this parameter is
true, the container is given read-only access to its root file system." An image that
writes a pid file or temporary files (stock nginx writes /var/run and /var/cache/nginx)
then exits at start, the load balancer never sees a healthy target and the deployment
circuit breaker rolls the stack back 10-30 minutes later.

The paths an image writes are the container contract's, recorded by the compute construct
in the task definition's ``Metadata.StreamFlix.ContainerContract.<container>.WritablePaths``.
Each must sit on a writable mount of a volume the task defines. A scratch (bind-mount)
volume on Fargate belongs to root with mode 0755 (ECS developer guide, "Use bind mounts
with Amazon ECS": "By default, the volume permissions are set to 0755 and the owner as
root"), so for a container that is not root the volume must also be handed over first: by
a container of the task that runs as root, mounts it, and is a SUCCESS dependency.
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, is_true, properties, resources

_ROOT_USERS = ("0", "root")


class ContainersCanWriteTheirPaths(Rule):
    id = "SF1007"
    title = "A read-only container has a writable volume for every path it writes"
    description = (
        "A container with ReadonlyRootFilesystem states its writable paths in the task's "
        "Metadata.StreamFlix.ContainerContract, and each is a writable mount of a task volume; a "
        "non-root container's scratch volumes are chowned by a root init container it depends on."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        for logical_id, task in resources(template, "AWS::ECS::TaskDefinition"):
            props = properties(task)
            contract = ((task.get("Metadata") or {}).get("StreamFlix") or {}).get("ContainerContract") or {}
            volumes = {v.get("Name"): v for v in props.get("Volumes") or [] if isinstance(v, dict)}
            containers = [c for c in props.get("ContainerDefinitions") or [] if isinstance(c, dict)]
            for container in containers:
                if not is_true(container.get("ReadonlyRootFilesystem")):
                    continue
                name = container.get("Name")
                stated = contract.get(name)
                if stated is None:
                    if _is_volume_owner(container, containers):
                        continue
                    yield container, (
                        f"{logical_id} container {name} has a read-only root file system but states no "
                        "writable paths (Metadata.StreamFlix.ContainerContract); it may fail at start"
                    )
                    continue
                yield from _check_paths(logical_id, container, stated, volumes, containers)


def _check_paths(
    logical_id: str, container: dict[str, Any], stated: dict[str, Any], volumes: dict[str, Any], containers: list
) -> Iterator[tuple[Any, str]]:
    name = container.get("Name")
    mounts = [m for m in container.get("MountPoints") or [] if isinstance(m, dict)]
    for path in stated.get("WritablePaths") or []:
        mount = _covering_mount(path, mounts)
        if mount is None:
            yield container, (
                f"{logical_id} container {name} writes {path} but its root file system is read-only and "
                "no volume is mounted there"
            )
            continue
        if is_true(mount.get("ReadOnly")):
            yield container, f"{logical_id} container {name} writes {path} but its mount is ReadOnly"
            continue
        volume = volumes.get(mount.get("SourceVolume"))
        if volume is None:
            yield container, (
                f"{logical_id} container {name} mounts {mount.get('SourceVolume')} at {path}, a volume the "
                "task does not define"
            )
            continue
        if _is_scratch(volume) and str(container.get("User", "0")).split(":")[0] not in _ROOT_USERS:
            if not _chowned_before_start(container, mount.get("SourceVolume"), containers):
                yield container, (
                    f"{logical_id} container {name} runs as {container.get('User')} but scratch volume "
                    f"{mount.get('SourceVolume')} at {path} belongs to root (mode 0755) and no root container "
                    "it depends on (condition SUCCESS) mounts it to hand it over"
                )


def _covering_mount(path: str, mounts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The mount whose container path is ``path`` or its nearest parent."""
    best: dict[str, Any] | None = None
    for mount in mounts:
        target = str(mount.get("ContainerPath", "")).rstrip("/")
        if path == target or path.startswith(target + "/"):
            if best is None or len(target) > len(str(best.get("ContainerPath", "")).rstrip("/")):
                best = mount
    return best


def _is_scratch(volume: dict[str, Any]) -> bool:
    """A task volume Fargate provides from ephemeral storage (no EFS, no Docker volume)."""
    return not any(key in volume for key in ("EFSVolumeConfiguration", "FSxWindowsFileServerVolumeConfiguration",
                                             "DockerVolumeConfiguration", "ConfiguredAtLaunch"))


def _is_volume_owner(container: dict[str, Any], containers: list[dict[str, Any]]) -> bool:
    """A non-essential root container some other container waits on: an init container."""
    name = container.get("Name")
    return (
        str(container.get("User", "0")).split(":")[0] in _ROOT_USERS
        and container.get("Essential") is False
        and any(
            d.get("ContainerName") == name
            for other in containers
            for d in other.get("DependsOn") or []
            if isinstance(d, dict)
        )
    )


def _chowned_before_start(container: dict[str, Any], volume: str, containers: list[dict[str, Any]]) -> bool:
    waits_for = {
        d.get("ContainerName")
        for d in container.get("DependsOn") or []
        if isinstance(d, dict) and d.get("Condition") == "SUCCESS"
    }
    for other in containers:
        if other.get("Name") not in waits_for:
            continue
        if str(other.get("User", "0")).split(":")[0] not in _ROOT_USERS:
            continue
        if any(isinstance(m, dict) and m.get("SourceVolume") == volume for m in other.get("MountPoints") or []):
            return True
    return False
