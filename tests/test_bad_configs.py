"""A generated suite of bad configs (issue 12): every one exits 2 with a message, no
traceback, and nothing written.

The cases are mutations of the three shipped presets, so they follow the config as
it grows: every scalar replaced by a mapping, a list, markup-like text, a long
string, a fraction and a value of the wrong type; every key misspelt and duplicated; required
keys removed; plus the input-limit categories (alias bomb, size, encoding, not a
file, not YAML, not a mapping) and the deploy-impossible configs of issue 12 item 2.
Runs in-process through click's CliRunner, so 1,000+ cases take seconds.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from click.testing import CliRunner

from streamflix.cli import main
from streamflix.config.loader import ECHO_LIMIT, MAX_CONFIG_BYTES, PRESETS, preset_path

MARKUP = "[/oops][bold]^[a-z][a-z0-9-]{1,30}$"
LONG = "x" * 5000


def _preset(name: str) -> dict[str, Any]:
    return yaml.safe_load(preset_path(name).read_text("utf-8"))


def _leaves(data: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, path + (index,))
    else:
        yield path


def _mappings(data: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(data, dict):
        yield path
        for key, value in data.items():
            yield from _mappings(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _mappings(value, path + (index,))


def _with(data: dict, path: tuple, value: Any) -> dict:
    changed = copy.deepcopy(data)
    node = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return changed


def _renamed(data: dict, path: tuple, old: str, new: str) -> dict:
    changed = copy.deepcopy(data)
    node = changed
    for part in path:
        node = node[part]
    node[new] = node.pop(old)
    return changed


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, (int, float)):
        return "12x"
    return 12345


def _dump(data: Any) -> bytes:
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     allow_unicode=True).encode("utf-8")


def _cases() -> list[tuple[str, bytes]]:
    cases: list[tuple[str, bytes]] = []
    for env in PRESETS:
        base = _preset(env)
        for path in _leaves(base):
            where = ".".join(map(str, path))
            cases.append((f"{env}:mapping-for-scalar:{where}", _dump(_with(base, path, {"nested": 1}))))
            cases.append((f"{env}:list-for-scalar:{where}", _dump(_with(base, path, [1, 2]))))
            if path[-1] != "reason":  # free text: markup there is printed verbatim, as the summary test shows
                cases.append((f"{env}:markup:{where}", _dump(_with(base, path, MARKUP))))
            cases.append((f"{env}:long-string:{where}", _dump(_with(base, path, LONG))))
            cases.append((f"{env}:fraction:{where}", _dump(_with(base, path, 1.5))))
            node = base
            for part in path:
                node = node[part]
            cases.append((f"{env}:wrong-type:{where}", _dump(_with(base, path, _wrong_type(node)))))
        for path in _mappings(base):
            node = base
            for part in path:
                node = node[part]
            if path and path[-1] == "tags":
                continue  # tag keys are free text: a misspelt tag key is a new tag
            for key in list(node):
                misspelt = key[:-1] if len(key) > 3 else key + "x"
                cases.append((f"{env}:misspelt:{'.'.join(map(str, path + (key,)))}", _dump(_renamed(base, path, key, misspelt))))
            if node:
                text = _dump(base).decode()
                first = next(iter(node))
                # duplicate the mapping's first key: a second line with the same key and indentation
                indent = "  " * len([p for p in path if isinstance(p, str)])
                if not any(isinstance(p, int) for p in path):
                    line = f"{indent}{first}:"
                    lines = text.splitlines()
                    hits = [i for i, l in enumerate(lines) if l.startswith(line) and l[len(indent)] != " "]
                    if hits:
                        start = hits[0]
                        end = start + 1
                        while end < len(lines) and lines[end].startswith(indent + "  "):
                            end += 1
                        block = lines[start:end]
                        dup = "\n".join(lines[:end] + block + lines[end:]) + "\n"
                        cases.append((f"{env}:duplicate-key:{'.'.join(map(str, path + (first,)))}", dup.encode()))
        for required in ("name", "tier", "environment_suffix"):
            missing = copy.deepcopy(base)
            missing.pop(required)
            cases.append((f"{env}:missing:{required}", _dump(missing)))
        too_many = copy.deepcopy(base)
        too_many["tags"] = {f"Tag{i}": "x" for i in range(60)}
        cases.append((f"{env}:tags:60", _dump(too_many)))
        bad_tag = copy.deepcopy(base)
        bad_tag["tags"] = {"Team": "a<b>"}
        cases.append((f"{env}:tags:bad-character", _dump(bad_tag)))
    cases += _input_limit_cases()
    cases += _deploy_impossible_cases()
    return cases


def _input_limit_cases() -> list[tuple[str, bytes]]:
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        bomb.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    dev = _dump(_preset("dev"))
    return [
        ("limits:alias-bomb", ("\n".join(bomb) + "\n").encode()),
        ("limits:recursive-alias", b"name: &n [*n]\n"),
        ("limits:oversized", dev + b"#" * (MAX_CONFIG_BYTES + 1)),
        ("limits:latin-1", dev.replace(b"name: dev", "name: d\u00e9v".encode("latin-1"))),
        ("limits:utf-16", "name: dev\n".encode("utf-16")),
        ("limits:empty", b""),
        ("limits:list-root", b"- a\n- b\n"),
        ("limits:scalar-root", b"just text\n"),
        ("limits:bad-yaml", b"name: [unclosed\n"),
        ("limits:tab-indent", b"name: dev\n\ttier: dev\n"),
        ("limits:list-key", b"? [a, b]\n: 1\nname: dev\n"),
        ("limits:merge-of-scalar", b"<<: 5\nname: dev\n"),
        ("limits:deep-nesting", b"name: " + b"[" * 200 + b"]" * 200 + b"\n"),
        ("limits:binary", bytes(range(256))),
    ]


def _deploy_impossible_cases() -> list[tuple[str, bytes]]:
    prod = _preset("prod")
    cases = []
    for name, path, value in (
        ("unknown-region", ("ha_database", "region"), "eu-nowhere-1"),
        ("aurora-version", ("ha_database", "database", "engine_version"), "15.4"),
        ("aurora-class", ("ha_database", "database", "instance_class"), "db.r4.large"),
        ("postgres-class", ("dr", "database", "instance_class"), "db.t2.micro"),
        ("same-dr-regions", ("dr", "recovery_region"), prod["dr"].get("primary_region", "eu-west-2")),
        ("az-count", ("ha_database", "network", "az_count"), 4),
        ("cross-partition-dr", ("dr", "recovery_region"), "us-gov-west-1"),
    ):
        cases.append((f"deploy-impossible:{name}", _dump(_with(prod, path, value))))
    # us-west-1 gives accounts two AZs; cn-north-1 needs amazonaws.com.cn principals
    for name, region in (("three-azs-in-us-west-1", "us-west-1"), ("china-partition", "cn-north-1")):
        config = _with(_with(prod, ("ha_database", "data_residency"), "unrestricted"), ("ha_database", "region"), region)
        cases.append((f"deploy-impossible:{name}", _dump(config)))
    return cases


CASES = _cases()


def test_the_suite_is_large_and_covers_every_category():
    assert len(CASES) >= 1000
    categories = {name.split(":")[1] if not name.startswith(("limits", "deploy")) else name.split(":")[0] for name, _ in CASES}
    assert {"mapping-for-scalar", "list-for-scalar", "markup", "long-string", "fraction", "wrong-type", "misspelt",
            "duplicate-key", "missing", "tags", "limits", "deploy-impossible"} <= categories


#: The cases run in this many slices, so pytest-xdist spreads them over the cores (every case still runs).
SLICES = 6


@pytest.mark.parametrize("part", range(SLICES))
def test_every_bad_config_exits_2_with_one_message_and_writes_nothing(tmp_path, part):
    runner = CliRunner()
    config = tmp_path / "config.yaml"
    out = tmp_path / "out"
    failures = []
    cases = CASES[part::SLICES]
    for name, content in cases:
        config.write_bytes(content)
        result = runner.invoke(main, ["--config", str(config), "--out", str(out), "--no-lint", "--no-scan"])
        problems = []
        if result.exit_code != 2:
            problems.append(f"exit {result.exit_code}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"raised {type(result.exception).__name__}")
        if "Traceback" in result.output or not result.output.startswith("error: "):
            problems.append("no single error message")
        if LONG in result.output or len(result.output) > 20_000:
            problems.append(f"echoed {len(result.output)} characters")
        if out.exists():
            problems.append("wrote out/")
            shutil.rmtree(out)
        if problems:
            failures.append(f"{name}: {', '.join(problems)}: {result.output[:300]!r}")
    assert not failures, f"{len(failures)} of {len(cases)} bad configs misbehaved:\n" + "\n".join(failures[:40])


def test_markup_in_values_is_printed_verbatim(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_bytes(_dump(_with(_preset("dev"), ("name",), "[/oops]")))
    result = CliRunner().invoke(main, ["--config", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "'[/oops]'" in result.output and "^[a-z][a-z0-9-]{1,30}$" in result.output


def test_problems_name_the_yaml_line_and_suggest_the_spelling(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("name: mine\ntier: dev\nenvironment_suffix: mine\nha_database:\n  databse: {}\n")
    result = CliRunner().invoke(main, ["--config", str(config)])
    assert result.exit_code == 2
    assert "line 5: ha_database.databse: unknown field" in result.output
    assert "did you mean 'database'?" in result.output


def test_long_values_are_echoed_shortened(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_bytes(_dump(_with(_preset("dev"), ("name",), LONG)))
    result = CliRunner().invoke(main, ["--config", str(config)])
    assert result.exit_code == 2 and "(5002 characters)" in result.output
    assert max(len(line) for line in result.output.splitlines()) < ECHO_LIMIT + 200


def test_a_fifo_or_device_is_refused_without_reading(tmp_path):
    import os

    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), tmp_path):
        result = CliRunner().invoke(main, ["--config", str(path), "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and "is a directory" in result.output or "cannot read config" in result.output, path
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "name, expected",
    [
        ("deploy-impossible:aurora-class", "aurora-postgresql 16.15 does not run on it"),
        ("deploy-impossible:postgres-class", "postgres 16.15 does not run on it"),
        ("deploy-impossible:three-azs-in-us-west-1", "us-west-1 offers 2 Availability Zones"),
        ("deploy-impossible:cross-partition-dr", "a cross-region read replica, EFS replication and KMS grants cannot cross partitions"),
        ("deploy-impossible:china-partition", "is in the aws-cn partition"),
    ],
)
def test_deploy_impossible_configs_are_refused_at_load_time(tmp_path, name, expected):
    # issue 12 items 2 and 9: these passed the config and failed at deploy or after minutes of lint
    config = tmp_path / "config.yaml"
    config.write_bytes(dict(CASES)[name])
    result = CliRunner().invoke(main, ["--config", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and expected in result.output, result.output


def test_unicode_letters_in_tags_are_accepted():
    from streamflix.config import parse_config

    data = _preset("dev")
    data["tags"] = {"Équipe": "données vidéo", "Team": "Straße 5"}
    assert parse_config(_dump(data).decode()).tags["Équipe"] == "données vidéo"
