"""Summary and small CLI behaviours of issue 12 items 13 and 14."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from streamflix import cli, pipeline
from streamflix.cli import main
from streamflix.render import RenderedStack


def _stack(region: str) -> RenderedStack:
    return RenderedStack("ha-database", region, "ha-database.yaml", "text", 1)


def test_cached_stacks_say_cached_not_zero_seconds(capsys):
    report = pipeline.BuildReport("dev", Path("out/dev"), written=True)
    report.stacks = [pipeline.StackReport(_stack("eu-central-1"), [], 0.0, cached=True)]
    cli._print_report(report, lint=True)
    printed = capsys.readouterr().err
    assert "cached" in printed and "0.00" not in printed


def test_check_stacks_marks_cache_hits(monkeypatch):
    monkeypatch.setattr(pipeline, "is_cached", lambda text, region, lint: region == "eu-central-1")
    monkeypatch.setattr(pipeline, "validate", lambda text, *, region, filename, lint=True: [])
    reports = pipeline.check_stacks([_stack("eu-central-1"), _stack("us-east-1")], label_dir=Path("out/dev"))
    assert [r.cached for r in reports] == [True, False]


def test_regions_without_prices_are_named_in_the_summary_notes():
    assert pipeline._unpriced_regions_note([_stack("eu-central-1")]) == []
    note = pipeline._unpriced_regions_note([_stack("eu-central-1"), _stack("us-west-1")])
    assert len(note) == 1 and "no prices recorded for us-west-1" in note[0] and "incomplete" in note[0]


def test_stack_help_lists_the_stacks_and_exit_codes_are_documented():
    result = CliRunner().invoke(main, ["--help"])
    assert "oneof:dr-primary,dr-recovery,ha-database" in "".join(result.output.split())
    for code in ("0", "1", "2", "3", "4", "130", "143"):
        assert f"\n    {code} " in result.output


def test_prices_show_refuses_an_unknown_region():
    result = CliRunner().invoke(main, ["prices", "show", "--region", "nope"])
    assert result.exit_code == 2 and "--region nope: no prices recorded" in result.output


def test_ctrl_c_is_exit_130_with_one_message(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "build", interrupted)
    result = CliRunner().invoke(main, ["--out", str(tmp_path)])
    assert result.exit_code == 130 and result.output.startswith("error: interrupted (SIGINT)")
