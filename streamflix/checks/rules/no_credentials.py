from __future__ import annotations

import re
from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, is_true, literal_text, resources

#: Parameter names that announce a credential.
CREDENTIAL_NAME = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)")
#: ...unless they only name or point at one (DB_SECRET_ARN, TokenName).
REFERENCE_NAME = re.compile(r"(?i)(arn|id|name|path|ttl)$")

#: Properties whose value is a credential, wherever they appear in a resource.
SECRET_PROPERTIES = frozenset(
    {
        "MasterUserPassword",
        "AuthToken",
        "Passwords",
        "Password",
        "SecretString",
        "SecretAccessKey",
        "PrivateKey",
        "ClientSecret",
        "ApiKey",
    }
)
#: The only ways a secret may appear: resolved by CloudFormation at deploy time.
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm-secure):")


class NoCredentialsInTemplates(Rule):
    id = "SF2002"
    title = "No credentials in templates"
    description = (
        "No parameter carries a credential (NoEcho, or a name like *Password*, *Secret*, *Token*, *ApiKey*), "
        "no NoEcho parameter has a Default, and no property holds a literal secret (MasterUserPassword, "
        "AuthToken, Passwords, SecretString, ...; container and function environment variables named "
        "like credentials included). Secrets come from dynamic references ({{resolve:secretsmanager:...}}) "
        "or are service-managed (ManageMasterUserPassword, IAM authentication): CloudFormation keeps "
        "parameter values and literals in stack history and events."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        for name, parameter in (template.get("Parameters") or {}).items():
            if not isinstance(parameter, dict):
                continue
            if is_true(parameter.get("NoEcho")) and "Default" in parameter:
                yield parameter, f"parameter {name} is NoEcho with a Default: the secret is in the template"
            elif is_true(parameter.get("NoEcho")) or _names_credential(name):
                yield parameter, (
                    f"parameter {name} carries a credential; use a dynamic reference "
                    "({{resolve:secretsmanager:...}}) or a service-managed secret"
                )
        for logical_id, resource in resources(template):
            for path, value in _secret_values(resource.get("Properties"), "Properties"):
                if not _is_dynamic_reference(value):
                    yield resource, (
                        f"{logical_id} {path} holds a credential that is not a dynamic reference "
                        "({{resolve:secretsmanager:...}}); let the service manage it or resolve it at deploy time"
                    )


def _names_credential(name: str) -> bool:
    return bool(CREDENTIAL_NAME.search(name)) and not REFERENCE_NAME.search(name)


def _is_dynamic_reference(value: Any) -> bool:
    text = literal_text(value)
    if text is None and isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"][1] if isinstance(value["Fn::Join"], list) and len(value["Fn::Join"]) == 2 else []
        text = "".join(p for p in parts if isinstance(p, str))
    return bool(text and DYNAMIC_REFERENCE.search(text))


def _secret_values(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every credential-holding value under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}"
            if key in SECRET_PROPERTIES:
                for index, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
                    yield (child if index is None else f"{child}.{index}"), item
            elif key == "Environment" and isinstance(value, list):
                # ECS container definitions: [{Name, Value}]
                for entry in value:
                    if isinstance(entry, dict) and isinstance(entry.get("Name"), str) and _names_credential(entry["Name"]):
                        yield f"{child}.{entry['Name']}", entry.get("Value")
            elif key == "Variables" and isinstance(value, dict):
                # Lambda environment: {NAME: value}
                for name, item in value.items():
                    if _names_credential(name):
                        yield f"{child}.{name}", item
            else:
                yield from _secret_values(value, child)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _secret_values(item, f"{path}.{index}")
