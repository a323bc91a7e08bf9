"""prod's DR pair has a name to fail over and serves HTTPS (issue 11, finding 4).

The shipped prod preset takes the hosted zone, the record name and each region's
certificate as deploy-time parameters (no real ones exist to ship); the tests read the
rendered prod templates and runbooks.
"""

from __future__ import annotations

import pytest
import yaml
from runbook_commands import invocations

from streamflix import parse_config
from streamflix.errors import ConfigError
from streamflix.testing import Template

PRIMARY_CERT = "arn:aws:acm:eu-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
RECOVERY_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000"


def _prod(configs, **dr_changes) -> str:
    data = configs["prod"].model_dump(mode="json", exclude_none=True)
    for key, value in dr_changes.items():
        if value is None:
            data["dr"].pop(key, None)
        else:
            data["dr"][key] = value
    return yaml.safe_dump(data, sort_keys=False)


def _refused(text: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse_config(text, source="prod.yaml")
    return str(error.value)


def test_prod_without_dns_failover_is_refused(configs):
    message = _refused(_prod(configs, dns=None))
    assert "dr.dns = None" in message and "Route 53 fails over" in message and "15-minute RTO" in message


def test_prod_without_https_is_refused_and_cannot_be_overridden(configs):
    load_balancer = {"deletion_protection": True}
    message = _refused(_prod(configs, load_balancer=load_balancer))
    assert "dr.load_balancer.primary_certificate_arn = None" in message and "HTTPS in both regions" in message
    data = yaml.safe_load(_prod(configs, load_balancer=load_balancer))
    data["security_overrides"] = [{"rule": "plaintext-listener", "reason": "no certificate yet, ticket SF-DR-12"}]
    message = _refused(yaml.safe_dump(data))
    assert "security_overrides.0.rule = 'plaintext-listener'" in message and "nothing in this config lowers" in message


def test_prod_with_certificates_and_names_in_the_config(configs):
    text = _prod(
        configs,
        dns={"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "record_name": "app.streamflix.com"},
        load_balancer={"deletion_protection": True, "primary_certificate_arn": PRIMARY_CERT,
                       "recovery_certificate_arn": RECOVERY_CERT},
    )
    config = parse_config(text, source="prod.yaml")
    assert config.dr.dns.record_name == "app.streamflix.com" and config.dr.load_balancer.https


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"dns": {"hosted_zone_id": "Z0123456789ABCDEFGHIJ"}}, "dr.dns.record_name = None"),
        ({"load_balancer": {"certificates_as_parameters": True, "primary_certificate_arn": PRIMARY_CERT,
                            "recovery_certificate_arn": RECOVERY_CERT}},
         "dr.load_balancer.certificates_as_parameters = True"),
    ],
)
def test_half_configured_names_and_certificates_are_refused(configs, changes, expected):
    assert expected in _refused(_prod(configs, **changes))


def test_prod_preset_has_no_plaintext_override(configs):
    assert configs["prod"].security_overrides == []
    assert configs["prod"].dr.load_balancer.https and configs["prod"].dr.dns is not None


def test_prod_recovery_stack_fails_over_a_parameterised_name(rendered):
    template = Template.from_stack(rendered["prod"]["dr-recovery"])
    parameters = template.body["Parameters"]
    assert parameters["HostedZoneId"]["Type"] == "AWS::Route53::HostedZone::Id" and "Default" not in parameters["HostedZoneId"]
    assert "Default" not in parameters["FailoverRecordName"]
    records = template.find_resources("AWS::Route53::RecordSet")
    assert {r["Properties"]["Failover"] for r in records.values()} == {"PRIMARY", "SECONDARY"}
    for record in records.values():
        assert record["Properties"]["Name"] == {"Ref": "FailoverRecordName"}
        assert record["Properties"]["HostedZoneId"] == {"Ref": "HostedZoneId"}
    check = template.find_resources("AWS::Route53::HealthCheck")["PrimaryHealthCheck"]["Properties"]["HealthCheckConfig"]
    assert (check["Type"], check["Port"], check["EnableSNI"]) == ("HTTPS", 443, True)


@pytest.mark.parametrize(("stack", "region"), [("dr-primary", "eu-west-2"), ("dr-recovery", "us-east-1")])
def test_prod_load_balancers_serve_https_with_a_certificate_parameter(rendered, stack, region):
    template = Template.from_stack(rendered["prod"][stack])
    parameter = template.body["Parameters"]["CertificateArn"]
    assert parameter["AllowedPattern"].startswith(f"^arn:aws[a-z-]*:acm:{region}:")
    listeners = template.find_resources("AWS::ElasticLoadBalancingV2::Listener")
    https = listeners["HttpsListener"]["Properties"]
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert listeners["HttpListener"]["Properties"]["DefaultActions"][0]["Type"] == "redirect"


@pytest.mark.parametrize("stack", ["dr-primary", "dr-recovery"])
def test_prod_failover_runbook_switches_and_validates_the_record(artifacts, stack):
    markdown = artifacts["prod"][f"runbooks/{stack}.md"]
    assert "FAILOVER_RECORD_NAME=$(aws cloudformation describe-stacks --region us-east-1 " in markdown
    assert "dig +short $FAILOVER_RECORD_NAME" in markdown
    assert "curl -fsS https://$FAILOVER_RECORD_NAME/" in markdown
    reads = [c for c in invocations(markdown) if "ParameterKey=='FailoverRecordName'" in (c.value("--query") or "")]
    assert reads and all(c.value("--stack-name") == "streamflix-prod-dr-recovery" for c in reads)


def test_prod_parameter_files_ask_for_zone_name_and_certificates(artifacts):
    recovery = artifacts["prod"]["parameters/dr-recovery.overrides.json"]
    for parameter in ("HostedZoneId", "FailoverRecordName", "CertificateArn"):
        assert f"{parameter}=<required:" in recovery
    assert "CertificateArn=<required:" in artifacts["prod"]["parameters/dr-primary.overrides.json"]
