"""SF3001: RDS refuses a read replica of a source that manages its master password (finding 1)."""

PRIMARY = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      MasterUsername: admin
      {credentials}
Outputs:
  DatabaseInstanceArn:
    Value: !GetAtt Primary.DBInstanceArn
"""
MANAGED = "ManageMasterUserPassword: true"
TEMPLATE_SECRET = "MasterUserPassword: '{{resolve:secretsmanager:arn:aws:secretsmanager:eu-west-2:1:secret:x:SecretString:password}}'"

RECOVERY = """
AWSTemplateFormatVersion: '2010-09-09'
Metadata:
  StreamFlix:
    Wiring:
      PrimaryDatabaseInstanceArn: {FromStack: dr-primary, Output: DatabaseInstanceArn, Resolve: output}
Parameters:
  PrimaryDatabaseInstanceArn: {Type: String}
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    Properties:
      SourceDBInstanceIdentifier: !Ref PrimaryDatabaseInstanceArn
      SourceRegion: eu-west-2
"""


def test_bad_cross_stack_replica_of_a_managed_password_source(environment_findings):
    findings = environment_findings(
        {"dr-primary": PRIMARY.format(credentials=MANAGED), "dr-recovery": RECOVERY}, "SF3001"
    )
    assert len(findings) == 1
    assert findings[0].file == "dr-recovery.yaml"
    assert "Replica is a read replica of Primary in dr-primary" in findings[0].message
    assert "ManageMasterUserPassword" in findings[0].message


def test_bad_same_template_replica(environment_findings):
    text = PRIMARY.format(credentials=MANAGED).replace("Outputs:", """  Local:
    Type: AWS::RDS::DBInstance
    Properties:
      SourceDBInstanceIdentifier: !Ref Primary
Outputs:""")
    assert [f.message.split(" is ")[0] for f in environment_findings({"one": text}, "SF3001")] == ["Local"]


def test_good_template_owned_secret(environment_findings):
    findings = environment_findings(
        {"dr-primary": PRIMARY.format(credentials=TEMPLATE_SECRET), "dr-recovery": RECOVERY}, "SF3001"
    )
    assert findings == []


def test_sql_server_sources_are_allowed(environment_findings):
    text = PRIMARY.format(credentials=MANAGED).replace("Engine: postgres", "Engine: sqlserver-se")
    assert environment_findings({"dr-primary": text, "dr-recovery": RECOVERY}, "SF3001") == []
