"""Template dict -> deterministic text, CloudFormation-aware reading, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from cfn_clean import cfn_literal_parser
from cfn_flip import yaml_dumper as cfn_yaml_dumper
from cfn_tools._config import config as cfn_flip_config

Format = Literal["yaml", "json"]
EXTENSIONS: dict[str, str] = {"yaml": ".yaml", "json": ".json"}


@dataclass(frozen=True)
class RenderedStack:
    """One rendered template and where it belongs under ``out/<env>/``."""

    blueprint: str
    region: str
    filename: str
    text: str
    resource_count: int


def render(template: Mapping[str, Any], fmt: Format = "yaml") -> str:
    """Render a template dict. YAML uses short-form intrinsics (``!Ref``, ``!Sub``).

    Key order is the dict's own order (the template core fixes it), so the same
    config always gives the same bytes.
    """
    as_json = json.dumps(template, indent=2, ensure_ascii=False)
    if fmt == "json":
        return as_json + "\n"
    if fmt == "yaml":
        return to_yaml(as_json)
    raise ValueError(f"unknown format {fmt!r}; allowed: yaml, json")


class _CfnDumper(cfn_yaml_dumper.Dumper):
    """cfn-flip's short-form dumper, minus its per-item class creation.

    cfn-flip keeps key order by wrapping every mapping in an ``ODict`` whose
    ``items()`` builds a new class per item so that PyYAML's key sort cannot
    reorder them (a third of the dump's time). Dumping with ``sort_keys=False``
    keeps the order without it. Everything else (string styles, ``!GetAtt a.b``,
    literal JSON bodies, width) is cfn-flip's own code, so the bytes are the same:
    tests/test_render.py compares both on every preset.
    """

    def analyze_scalar(self, scalar: str) -> Any:
        # A pure function of the text (and of allow_unicode, fixed here), and the
        # emitter only reads the result: analyse each distinct string once per dump.
        if type(scalar) is not str:
            return super().analyze_scalar(scalar)
        cache = self.__dict__.setdefault("_analysis_cache", {})
        analysis = cache.get(scalar)
        if analysis is None:
            analysis = cache[scalar] = super().analyze_scalar(scalar)
        return analysis


def _mapping(dumper: Any, value: Mapping[str, Any]) -> Any:
    """cfn-flip's ``map_representer``: a one-key ``Ref``/``Condition``/``Fn::*`` mapping is a short-form tag."""
    if len(value) == 1:
        key = next(iter(value))
        if key in cfn_yaml_dumper.CONVERTED_SUFFIXES:
            return cfn_yaml_dumper.fn_representer(dumper, key, value[key])
        if key.startswith(cfn_yaml_dumper.FN_PREFIX):
            return cfn_yaml_dumper.fn_representer(dumper, key[len(cfn_yaml_dumper.FN_PREFIX):], value[key])
    return dumper.represent_mapping(cfn_yaml_dumper.TAG_MAP, value, flow_style=False)


_CfnDumper.add_representer(dict, _mapping)


def to_yaml(as_json: str) -> str:
    """``cfn_flip.to_yaml(as_json, clean_up=False, long_form=False)``, byte for byte, about 1.5x faster."""
    data = cfn_literal_parser(json.loads(as_json))
    return yaml.dump(
        data, Dumper=_CfnDumper, default_flow_style=False, allow_unicode=True,
        width=cfn_flip_config.max_col_width, sort_keys=False,
    )


class TemplateParseError(ValueError):
    """The text is not a CloudFormation template."""


def load_template(text: str) -> dict[str, Any]:
    """Parse a CloudFormation template (YAML with short-form tags, or JSON).

    Uses cfn-lint's CloudFormation-aware decoder: ``!Ref``/``!Sub``/``!GetAtt``
    come back in long form (``{"Ref": "Vpc"}``), never as a parser error, and
    every mapping remembers its line (``node.start_mark.line``, 0-based) so
    findings can point at the file.
    """
    from cfnlint.decode import decode_str  # deferred: cfn-lint costs ~0.5 s to import

    template, problems = decode_str(text)
    if problems or not isinstance(template, dict):
        detail = "; ".join(str(p.message) for p in problems) or "not a mapping"
        raise TemplateParseError(f"not a CloudFormation template: {detail}")
    return template


@lru_cache(maxsize=16)
def shared_template(text: str) -> dict[str, Any]:
    """``load_template(text)``, parsed once per process and shared: treat it as READ-ONLY.

    A build reads each template in many places (our rules, wiring, compliance, the
    documents, the suppression list); parsing costs ~0.3 s a template, so they share
    one parse. Mutating the result would change what every later reader sees
    (tests/test_lint_runner.py checks a whole build leaves it equal to a fresh parse);
    call ``load_template`` for a private copy.
    """
    return load_template(text)


def write_tree_atomically(target: Path, files: Mapping[str, str], *, prune: bool = False) -> None:
    """Replace files under ``target`` so that readers never see a half-written set.

    Everything is written into a sibling staging folder first; files already in
    ``target`` that are not being replaced are carried over (unless ``prune``:
    then ``target`` ends up holding exactly ``files``); then the staging
    folder takes ``target``'s place with two renames. If anything fails before
    the swap, ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{target.name}-", dir=target.parent))
    try:
        if target.is_dir() and not prune:
            for existing in target.rglob("*"):
                relative = existing.relative_to(target)
                if existing.is_file() and str(relative) not in files:
                    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(existing, staging / relative)
        for relative, content in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(staging, 0o755)
        retired = None
        if target.exists():
            retired = target.with_name(f".staging-{target.name}-retired")
            if retired.exists():
                shutil.rmtree(retired)
            os.replace(target, retired)
        try:
            os.replace(staging, target)
        except BaseException:
            if retired is not None:
                os.replace(retired, target)  # put the previous files back
            raise
        if retired is not None:
            shutil.rmtree(retired)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
