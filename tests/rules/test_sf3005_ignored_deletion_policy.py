"""SF3005: DeletionPolicy on a read replica is ignored; Snapshot only where supported (finding 6)."""

REPLICA = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  DatabaseRole: {{Type: String, AllowedValues: [replica, standalone], Default: replica}}
  Source: {{Type: String}}
Conditions:
  IsReadReplica: !Equals [!Ref DatabaseRole, replica]
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      SourceDBInstanceIdentifier: {source}
"""


def test_bad_replica_that_can_never_be_promoted_by_the_stack(environment_findings):
    findings = environment_findings({"r": REPLICA.format(source="!Ref Source")}, "SF3005")
    assert len(findings) == 1 and "ignores its DeletionPolicy" in findings[0].message


def test_good_promotable_replica(environment_findings):
    source = "!If [IsReadReplica, !Ref Source, !Ref AWS::NoValue]"
    assert environment_findings({"r": REPLICA.format(source=source)}, "SF3005") == []


def test_bad_snapshot_on_a_type_without_snapshots(environment_findings):
    text = """
    AWSTemplateFormatVersion: '2010-09-09'
    Resources:
      Files:
        Type: AWS::EFS::FileSystem
        DeletionPolicy: Snapshot
    """
    findings = environment_findings({"f": text}, "SF3005")
    assert [f.message.split(" (")[0] for f in findings] == ["Files"]
