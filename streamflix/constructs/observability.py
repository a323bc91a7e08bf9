"""Alarms to an encrypted SNS topic, and a dashboard of the same metrics.

Each monitored construct contributes ``MetricAlarm`` specs (what to watch and
when to page); this module turns them into alarms and dashboard widgets, so a
threshold in the config, the alarm in the template and the widget beside it
cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from troposphere import Parameter, Ref, Sub, cloudwatch, sns

from streamflix.config.models import ObservabilityConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.keys import Key
from streamflix.template import StackTemplate

ALARM_TOPIC = "AlarmTopic"
DASHBOARD = "Dashboard"
#: Deploy-time parameter: an existing SNS topic (a paging integration) every alarm also notifies.
EXISTING_TOPIC_PARAMETER = "ExistingAlarmTopicArn"

_COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric. ``region`` is for dashboard widgets only (a metric another
    region publishes, e.g. a cross-region replica's lag); alarms watch their own region."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, Any], ...]
    statistic: str = "Average"
    period: int = 300
    region: str | None = None


@dataclass(frozen=True)
class MetricAlarm:
    """One alarm: ``logical_id`` is a contract, ``comparison`` one of > >= < <=."""

    logical_id: str
    metric: Metric
    comparison: str
    threshold: float
    description: str
    evaluation_periods: int = 3
    treat_missing_data: str = "notBreaching"
    #: Template condition the alarm exists under (e.g. only while a DB instance is a replica).
    condition: str | None = None


@dataclass(frozen=True)
class DashboardSection:
    title: str
    metrics: tuple[Metric, ...]


@dataclass
class Monitoring:
    """What the observability construct is asked to watch."""

    alarms: list[MetricAlarm] = field(default_factory=list)
    sections: list[DashboardSection] = field(default_factory=list)

    def watch(self, title: str, alarms: Sequence[MetricAlarm], extra_metrics: Sequence[Metric] = ()) -> None:
        self.alarms.extend(alarms)
        metrics = tuple(dict.fromkeys([a.metric for a in alarms] + list(extra_metrics)))
        self.sections.append(DashboardSection(title, metrics))


def add_observability(
    t: StackTemplate,
    cfg: ObservabilityConfig,
    *,
    project: str,
    key: Key,
    monitoring: Monitoring,
    dashboard_name: str = "dashboard",
) -> Ref:
    """The alarm topic, every alarm ``monitoring`` collected, and the dashboard.

    ``dashboard_name`` is the config.naming key of the dashboard's name: dashboard
    names are account-wide, so stacks that share an account need different keys.
    """
    topic = t.add_resource(
        sns.Topic(
            ALARM_TOPIC,
            DisplayName="StreamFlix alarms",
            KmsMasterKeyId=key.ref,
            Subscription=[sns.Subscription(Protocol="email", Endpoint=email) for email in cfg.alarm_emails],
        )
    )
    targets = [Ref(topic)]
    if cfg.existing_alarm_topic:
        existing = t.add_parameter(
            Parameter(
                EXISTING_TOPIC_PARAMETER,
                Type="String",
                AllowedPattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
                ConstraintDescription="the ARN of an SNS topic in this stack's region",
                Description=(
                    "Existing SNS topic in this region (e.g. your paging integration) that every alarm also "
                    "notifies; its access policy must let CloudWatch publish (and its KMS key, if any, allow it)."
                ),
            ),
            group="Alarms",
            label="Existing alarm topic ARN",
        )
        targets.append(Ref(existing))
    for alarm in monitoring.alarms:
        t.add_resource(_alarm(alarm, targets))
    t.add_resource(
        cloudwatch.Dashboard(
            DASHBOARD,
            DashboardName=Sub(NAMES[dashboard_name].sub_pattern(project)),
            DashboardBody=_dashboard_body(monitoring.sections),
        )
    )
    t.add_output("AlarmTopicArn", Ref(topic), "SNS topic (KMS-encrypted) that receives every alarm")
    t.add_output("DashboardName", Ref(DASHBOARD), "CloudWatch dashboard of the stack")
    return Ref(topic)


def _alarm(spec: MetricAlarm, targets: list[Ref]) -> cloudwatch.Alarm:
    if spec.metric.region is not None:
        raise ValueError(f"{spec.logical_id}: an alarm cannot watch another region's metric ({spec.metric.region})")
    if spec.comparison not in _COMPARISONS:
        raise ValueError(f"comparison {spec.comparison!r}; allowed: {', '.join(_COMPARISONS)}")
    conditional = {"Condition": spec.condition} if spec.condition else {}
    return cloudwatch.Alarm(
        spec.logical_id,
        **conditional,
        AlarmDescription=spec.description,
        Namespace=spec.metric.namespace,
        MetricName=spec.metric.name,
        Dimensions=[cloudwatch.MetricDimension(Name=name, Value=value) for name, value in spec.metric.dimensions],
        Statistic=spec.metric.statistic,
        Period=spec.metric.period,
        EvaluationPeriods=spec.evaluation_periods,
        DatapointsToAlarm=spec.evaluation_periods,
        Threshold=spec.threshold,
        ComparisonOperator=_COMPARISONS[spec.comparison],
        TreatMissingData=spec.treat_missing_data,
        AlarmActions=list(targets),
        OKActions=list(targets),
    )


def _dashboard_body(sections: Sequence[DashboardSection]) -> Sub:
    """Dashboard JSON with CloudFormation values passed as ``${DimN}`` Sub variables."""
    variables: dict[str, Any] = {}

    def placeholder(value: Any) -> str:
        if isinstance(value, str):
            return value
        name = f"Dim{len(variables)}"
        variables[name] = value
        return "${" + name + "}"

    widgets = []
    y = 0
    for section in sections:
        widgets.append(
            {"type": "text", "x": 0, "y": y, "width": 24, "height": 1, "properties": {"markdown": f"## {section.title}"}}
        )
        y += 1
        for index, metric in enumerate(section.metrics):
            row = [metric.namespace, metric.name]
            for name, value in metric.dimensions:
                row += [name, placeholder(value)]
            widgets.append(
                {
                    "type": "metric",
                    "x": (index % 3) * 8,
                    "y": y + (index // 3) * 6,
                    "width": 8,
                    "height": 6,
                    "properties": {
                        "title": metric.name + (f" ({metric.region})" if metric.region else ""),
                        "metrics": [row],
                        "stat": metric.statistic,
                        "period": metric.period,
                        "region": metric.region or "${AWS::Region}",
                        "view": "timeSeries",
                    },
                }
            )
        y += ((len(section.metrics) + 2) // 3) * 6
    body = json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))
    return Sub(body, **variables) if variables else Sub(body)
