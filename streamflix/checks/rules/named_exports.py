from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext


class OutputsExportedByName(Rule):
    id = "SF1002"
    title = "Every output exported with a name"
    description = (
        "Every output has Export.Name set to a non-empty value (seed 000 #3: an Export "
        "with a null Name fails validate-template)."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        outputs = template.get("Outputs") or {}
        for name, output in outputs.items():
            if not isinstance(output, dict):
                yield outputs, f"output {name} is not a mapping"
                continue
            export = output.get("Export")
            if not isinstance(export, dict):
                yield output, f"output {name} has no Export (expected Name: ${{AWS::StackName}}-{name})"
                continue
            export_name = export.get("Name")
            if export_name is None or (isinstance(export_name, str) and not export_name.strip()):
                yield output, f"output {name} has an Export without a Name"
