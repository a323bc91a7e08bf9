"""SF2004: only a public ALB admits the internet (80/443); data stores admit security groups only; nothing public in private subnets."""

import pytest

RULE = "SF2004"

NETWORK = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Igw:
    Type: AWS::EC2::InternetGateway
  PublicTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref Vpc
  PublicRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref PublicTable
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref Igw
  PublicSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.0.0/24
      MapPublicIpOnLaunch: true
  PublicAssociation:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref PublicSubnet
      RouteTableId: !Ref PublicTable
  DataSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
      MapPublicIpOnLaunch: {data_public}
  AppGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: app
      VpcId: !Ref Vpc
  DbGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: db
      VpcId: !Ref Vpc
  DbFromApp:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !GetAtt DbGroup.GroupId
      SourceSecurityGroupId: !GetAtt AppGroup.GroupId
      IpProtocol: tcp
      FromPort: 5432
      ToPort: 5432
  SubnetGroup:
    Type: AWS::RDS::DBSubnetGroup
    Properties:
      DBSubnetGroupDescription: data
      SubnetIds: [!Ref {db_subnet}]
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      DBInstanceClass: db.t4g.medium
      DBSubnetGroupName: !Ref SubnetGroup
      VPCSecurityGroups: [!GetAtt DbGroup.GroupId]
      PubliclyAccessible: {publicly_accessible}
"""
ALB = """\
  AlbGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: alb
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: {port}
          ToPort: {port}
          CidrIp: 0.0.0.0/0
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Scheme: {scheme}
      Subnets: [!Ref PublicSubnet]
      SecurityGroups: [!Ref AlbGroup]
"""


def network(data_public="false", db_subnet="DataSubnet", publicly_accessible="false", extra=""):
    return NETWORK.format(data_public=data_public, db_subnet=db_subnet, publicly_accessible=publicly_accessible) + extra


@pytest.mark.parametrize("port", [80, 443])
def test_public_alb_on_web_ports_is_fine(rule_findings, port):
    assert rule_findings(network(extra=ALB.format(port=port, scheme="internet-facing")), RULE) == []


def test_public_alb_on_another_port(rule_findings):
    findings = rule_findings(network(extra=ALB.format(port=22, scheme="internet-facing")), RULE)
    assert [f.message for f in findings] == ["AlbGroup admits 0.0.0.0/0 on tcp 22; only a public ALB may, on 80/443"]


def test_internal_alb_may_not_admit_the_internet(rule_findings):
    assert len(rule_findings(network(extra=ALB.format(port=443, scheme="internal")), RULE)) == 1


def test_world_ipv6_ingress_on_an_app_group(rule_findings, line_of):
    extra = """\
  OpenApp:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !GetAtt AppGroup.GroupId
      CidrIpv6: ::/0
      IpProtocol: '-1'
"""
    text = network(extra=extra)
    findings = rule_findings(text, RULE)
    assert [f.message for f in findings] == ["AppGroup admits ::/0 on every port; only a public ALB may, on 80/443"]
    assert findings[0].line == line_of(text, "Type: AWS::EC2::SecurityGroupIngress", after="OpenApp")


# a range from a parameter (!Ref) is named as the template writes it, and no longer crashes the rule
@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "!Ref OfficeCidr"])
def test_database_group_admitting_an_address_range(rule_findings, cidr):
    extra = f"""\
  DbFromOffice:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !GetAtt DbGroup.GroupId
      CidrIp: {cidr}
      IpProtocol: tcp
      FromPort: 5432
      ToPort: 5432
"""
    text = network(extra=extra).replace("Resources:\n", "Parameters:\n  OfficeCidr: {Type: String}\nResources:\n", 1)
    findings = rule_findings(text, RULE)
    assert [f.message for f in findings] == [
        f"DbGroup guards Db but admits an address range ({cidr}); name a source security group"
    ]


def test_private_subnet_mapping_public_ips(rule_findings):
    findings = rule_findings(network(data_public="true"), RULE)
    assert [f.message for f in findings] == ["DataSubnet maps public IPs on launch but is not a public (internet-gateway) subnet"]


def test_database_in_a_public_subnet(rule_findings):
    findings = rule_findings(network(db_subnet="PublicSubnet"), RULE)
    assert [f.message for f in findings] == ["SubnetGroup places a data store in the public subnet PublicSubnet"]


@pytest.mark.parametrize("value", ["true", "''"])
def test_database_must_state_it_is_not_public(rule_findings, value):
    text = network(publicly_accessible=value).replace("      PubliclyAccessible: ''\n", "")
    message = rule_findings(text, RULE)[0].message
    assert "Db must state PubliclyAccessible: false" in message
    assert message.endswith("(found true)" if value == "true" else "(found nothing; RDS then decides from the subnet group)")


def test_tasks_with_public_ips(rule_findings):
    extra = """\
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: default
      NetworkConfiguration:
        AwsvpcConfiguration:
          AssignPublicIp: ENABLED
          Subnets: [!Ref DataSubnet]
"""
    assert [f.message for f in rule_findings(network(extra=extra), RULE)] == [
        "Service gives its tasks public IPs (AssignPublicIp: ENABLED)"
    ]
