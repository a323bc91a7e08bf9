"""Kinesis Data Stream for change events, encrypted with the stack key."""

from __future__ import annotations

from dataclasses import dataclass

from awacs import kinesis as kinesis_actions
from awacs.aws import Statement
from troposphere import GetAtt, Ref, kinesis

from streamflix.config.models import AlarmThresholds, StreamingConfig
from streamflix.constructs.iam_policies import allow
from streamflix.constructs.keys import Key
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.template import StackTemplate, protect

EVENT_STREAM = "EventStream"


@dataclass(frozen=True)
class Stream:
    name: Ref
    arn: GetAtt

    def grant_write(self) -> Statement:
        return allow(
            [kinesis_actions.PutRecord, kinesis_actions.PutRecords, kinesis_actions.DescribeStreamSummary],
            [self.arn],
        )

    def environment(self) -> dict[str, object]:
        return {"EVENT_STREAM": self.name}


def add_event_stream(t: StackTemplate, cfg: StreamingConfig, *, project: str, key: Key) -> Stream:
    mode = "ON_DEMAND" if cfg.mode == "on_demand" else "PROVISIONED"
    # No fixed Name: the stream is kept when the stack is deleted (its unread records), and a
    # kept stream with a fixed name would make the next create of the stack fail with "already
    # exists" (lifecycle, second-create). CloudFormation names it; consumers read EventStreamName.
    props = {
        "RetentionPeriodHours": cfg.retention_hours,
        "StreamModeDetails": kinesis.StreamModeDetails(StreamMode=mode),
        "StreamEncryption": kinesis.StreamEncryption(EncryptionType="KMS", KeyId=key.ref),
    }
    if cfg.shard_count is not None:
        props["ShardCount"] = cfg.shard_count
    stream = t.add_resource(kinesis.Stream(EVENT_STREAM, **props))
    # Kinesis has no snapshots: Retain keeps the records' stream on delete and replace.
    protect(stream, "Retain")
    t.add_output("EventStreamName", Ref(stream), "Kinesis stream for change events")
    t.add_output("EventStreamArn", GetAtt(stream, "Arn"), "Kinesis stream ARN")
    return Stream(name=Ref(stream), arn=GetAtt(stream, "Arn"))


def watch_stream(monitoring: Monitoring, stream: Stream, th: AlarmThresholds) -> None:
    age = Metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", (("StreamName", stream.name),), "Maximum")
    monitoring.watch(
        "Kinesis",
        [MetricAlarm("StreamIteratorAgeAlarm", age, ">", th.stream_iterator_age_ms,
                     f"Consumers more than {th.stream_iterator_age_ms} ms behind the stream")],
        [Metric("AWS/Kinesis", "IncomingRecords", (("StreamName", stream.name),), "Sum")],
    )
