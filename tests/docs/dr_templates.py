"""Small, valid CloudFormation templates holding the DR resource types the runbook reacts to.

They stand in for the DR pair's blueprints (not on this branch): a primary in
eu-west-2 with a Multi-AZ PostgreSQL instance and a replicated EFS file system,
and a recovery stack in us-east-1 with a cross-region read replica, a Fargate
service scaled by a parameter, and Route 53 failover records. The recovery
stack names no wiring: its ``Primary*``/``Replica*`` parameters are wired by the
naming convention, which the tests check too.
"""

from __future__ import annotations

from streamflix.render import RenderedStack, load_template

PRIMARY = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: Test DR primary (eu-west-2)
Metadata:
  StreamFlix:
    Blueprint: dr-primary
    Environment: dev
    Region: eu-west-2
Parameters:
  EnvironmentSuffix:
    Type: String
    Default: dev
    AllowedPattern: ^[a-z][a-z0-9]{0,11}$
Resources:
  DataKey:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      EnableKeyRotation: true
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'
            Action: kms:*
            Resource: '*'
  PrimaryDatabase:
    Type: AWS::RDS::DBInstance
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      DBInstanceIdentifier: !Sub 'streamflix-${EnvironmentSuffix}-pg-primary'
      Engine: postgres
      EngineVersion: '16.15'
      DBInstanceClass: db.t3.medium
      MultiAZ: true
      AllocatedStorage: '100'
      StorageType: gp3
      StorageEncrypted: true
      KmsKeyId: !Ref DataKey
      MasterUsername: streamflix_admin
      ManageMasterUserPassword: true
      BackupRetentionPeriod: 7
      PreferredBackupWindow: '03:00-05:00'
      DeletionProtection: true
  SharedFiles:
    Type: AWS::EFS::FileSystem
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      Encrypted: true
      KmsKeyId: !GetAtt DataKey.Arn
      BackupPolicy:
        Status: ENABLED
      LifecyclePolicies:
        - TransitionToIA: AFTER_30_DAYS
      ReplicationConfiguration:
        Destinations:
          - Region: us-east-1
Outputs:
  DatabaseInstanceArn:
    Value: !GetAtt PrimaryDatabase.DBInstanceArn
    Export:
      Name: !Sub '${AWS::StackName}-DatabaseInstanceArn'
  FileSystemId:
    Value: !Ref SharedFiles
    Export:
      Name: !Sub '${AWS::StackName}-FileSystemId'
  RecoveryTimeObjectiveMinutes:
    Value: '20'
    Export:
      Name: !Sub '${AWS::StackName}-RecoveryTimeObjectiveMinutes'
"""

RECOVERY = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: Test DR recovery (us-east-1)
Metadata:
  StreamFlix:
    Blueprint: dr-recovery
    Environment: dev
    Region: us-east-1
Parameters:
  EnvironmentSuffix:
    Type: String
    Default: dev
    AllowedPattern: ^[a-z][a-z0-9]{0,11}$
  PrimaryDatabaseInstanceArn:
    Type: String
    Description: The primary DB instance the replica follows
  ReplicaFileSystemId:
    Type: String
    Description: The EFS replica in this region
  ServiceTaskCount:
    Type: Number
    Default: 1
    MinValue: 1
    MaxValue: 6
  HostedZoneId:
    Type: String
    Default: Z0123456789EXAMPLE
  DomainName:
    Type: String
    Default: app.example.com
Resources:
  DataKey:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      EnableKeyRotation: true
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'
            Action: kms:*
            Resource: '*'
  Replica:
    Type: AWS::RDS::DBInstance
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      DBInstanceIdentifier: !Sub 'streamflix-${EnvironmentSuffix}-pg-replica'
      SourceDBInstanceIdentifier: !Ref PrimaryDatabaseInstanceArn
      SourceRegion: eu-west-2
      DBInstanceClass: db.t3.medium
      KmsKeyId: !Ref DataKey
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.42.0.0/16
  AppSubnetA:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.42.0.0/20
      AvailabilityZone: !Select [0, !GetAZs '']
  AppSubnetB:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.42.16.0/20
      AvailabilityZone: !Select [1, !GetAZs '']
  FileSystemSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: NFS from the service
      VpcId: !Ref Vpc
  ReplicaMountTargetA:
    Type: AWS::EFS::MountTarget
    Properties:
      FileSystemId: !Ref ReplicaFileSystemId
      SubnetId: !Ref AppSubnetA
      SecurityGroups: [!Ref FileSystemSecurityGroup]
  EcsCluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Sub 'streamflix-${EnvironmentSuffix}'
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: '256'
      Memory: '512'
      RuntimePlatform:
        CpuArchitecture: ARM64
        OperatingSystemFamily: LINUX
      ContainerDefinitions:
        - Name: app
          Image: public.ecr.aws/docker/library/nginx:1.27-alpine
          Essential: true
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: !Ref EcsCluster
      LaunchType: FARGATE
      DesiredCount: !Ref ServiceTaskCount
      TaskDefinition: !Ref TaskDefinition
      NetworkConfiguration:
        AwsvpcConfiguration:
          Subnets: [!Ref AppSubnetA, !Ref AppSubnetB]
  PrimaryHealthCheck:
    Type: AWS::Route53::HealthCheck
    Properties:
      HealthCheckConfig:
        Type: HTTPS
        FullyQualifiedDomainName: primary.example.com
        ResourcePath: /health
  PrimaryRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: !Ref HostedZoneId
      Name: !Ref DomainName
      Type: CNAME
      TTL: '60'
      SetIdentifier: primary
      Failover: PRIMARY
      HealthCheckId: !Ref PrimaryHealthCheck
      ResourceRecords: [primary.example.com]
  SecondaryRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: !Ref HostedZoneId
      Name: !Ref DomainName
      Type: CNAME
      TTL: '60'
      SetIdentifier: secondary
      Failover: SECONDARY
      ResourceRecords: [recovery.example.com]
  ReplicaLagAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/RDS
      MetricName: ReplicaLag
      Dimensions:
        - Name: DBInstanceIdentifier
          Value: !Ref Replica
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 5
      Threshold: 300
      ComparisonOperator: GreaterThanThreshold
Outputs:
  ReplicaInstanceIdentifier:
    Value: !Ref Replica
    Export:
      Name: !Sub '${AWS::StackName}-ReplicaInstanceIdentifier'
  EcsServiceName:
    Value: !GetAtt Service.Name
    Export:
      Name: !Sub '${AWS::StackName}-EcsServiceName'
"""

#: The recovery template with its wiring declared in the template, as the DR blueprints do.
WIRING_METADATA = """\
    Wiring:
      PrimaryDatabaseInstanceArn: {FromStack: dr-primary, Output: DatabaseInstanceArn, Resolve: stack-output}
      ReplicaFileSystemId: {FromStack: dr-primary, Output: FileSystemId, Resolve: efs-replication-destination}
"""


def with_wiring_metadata(recovery: str = RECOVERY) -> str:
    marker = "    Region: us-east-1\n"
    return recovery.replace(marker, marker + WIRING_METADATA, 1)


def rendered(blueprint: str, region: str, text: str) -> RenderedStack:
    return RenderedStack(blueprint, region, f"{blueprint}.yaml", text, len(load_template(text)["Resources"]))


def dr_pair(recovery: str = RECOVERY) -> list[RenderedStack]:
    return [rendered("dr-primary", "eu-west-2", PRIMARY), rendered("dr-recovery", "us-east-1", recovery)]
