"""CloudFormation's hard quotas, and the one soft limit every StreamFlix template passes.

A template body over 51,200 bytes cannot be passed inline (``--template-body``);
ours are 70-90 KB, so they are always deployed from S3. That is normal, not a
finding: the build prints ``s3_deploy_note`` instead. Over 1 MB even S3 is refused.
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext

MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_MAPPINGS = 200
#: Largest body CloudFormation accepts from S3.
MAX_BODY_BYTES = 1_048_576
#: Largest body CloudFormation accepts inline.
MAX_INLINE_BODY_BYTES = 51_200


class CloudFormationQuotas(Rule):
    id = "SF2007"
    title = "Within CloudFormation's template quotas"
    description = (
        f"At most {MAX_RESOURCES} resources, {MAX_PARAMETERS} parameters, {MAX_OUTPUTS} outputs, "
        f"{MAX_MAPPINGS} mappings, and a body of at most {MAX_BODY_BYTES:,} bytes (1 MB, the S3 limit). "
        f"Bodies over {MAX_INLINE_BODY_BYTES:,} bytes are normal here: the build notes they deploy via S3."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        for section, limit in (
            ("Resources", MAX_RESOURCES),
            ("Parameters", MAX_PARAMETERS),
            ("Outputs", MAX_OUTPUTS),
            ("Mappings", MAX_MAPPINGS),
        ):
            count = len(template.get(section) or {})
            if count > limit:
                yield template.get(section), f"{count} {section.lower()}; CloudFormation allows at most {limit} (split the stack)"
        if ctx.body_bytes is not None and ctx.body_bytes > MAX_BODY_BYTES:
            yield template, f"body is {ctx.body_bytes:,} bytes; CloudFormation accepts at most {MAX_BODY_BYTES:,} even from S3"


def s3_deploy_note(
    filename: str, body_bytes: int, stack_name: str, region: str, capabilities: str = "CAPABILITY_IAM"
) -> str | None:
    """How to deploy a template too large to pass inline, or None when it fits."""
    if body_bytes <= MAX_INLINE_BODY_BYTES:
        return None
    return (
        f"{filename} is {body_bytes:,} bytes (> {MAX_INLINE_BODY_BYTES:,} inline limit): deploy it through S3, e.g. "
        f"aws cloudformation deploy --template-file {filename} --stack-name {stack_name} --region {region} "
        f"--s3-bucket <artifact-bucket> --capabilities {capabilities}"
    )
