from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext

EXPECTED = "2010-09-09"


class FormatVersionFirst(Rule):
    id = "SF1001"
    title = "Format version first"
    description = (
        "The template starts with AWSTemplateFormatVersion '2010-09-09' "
        "(seed 000 #1: a template without it is rejected before any resource exists)."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        keys = list(template)
        if "AWSTemplateFormatVersion" not in template:
            yield template, "AWSTemplateFormatVersion is missing"
        elif keys[0] != "AWSTemplateFormatVersion":
            yield template, f"AWSTemplateFormatVersion must be the first key, found {keys[0]!r} first"
        elif str(template["AWSTemplateFormatVersion"]) != EXPECTED:
            yield template, f"AWSTemplateFormatVersion must be '{EXPECTED}'"
