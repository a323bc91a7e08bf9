"""SF3006: ECS services (and in-VPC hosted rotation) DependsOn their subnets' egress (finding 10)."""

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Vpc: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.0.0.0/16}}}}
  AppSubnetA: {{Type: AWS::EC2::Subnet, Properties: {{VpcId: !Ref Vpc, CidrBlock: 10.0.64.0/20}}}}
  AppRouteTableA: {{Type: AWS::EC2::RouteTable, Properties: {{VpcId: !Ref Vpc}}}}
  AppSubnetARouteTableAssociation:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {{SubnetId: !Ref AppSubnetA, RouteTableId: !Ref AppRouteTableA}}
  NatGatewayA: {{Type: AWS::EC2::NatGateway, Properties: {{AllocationId: eipalloc-1, SubnetId: subnet-1}}}}
  AppDefaultRouteA:
    Type: AWS::EC2::Route
    Properties: {{RouteTableId: !Ref AppRouteTableA, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatGatewayA}}
  S3GatewayEndpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties: {{VpcId: !Ref Vpc, ServiceName: com.amazonaws.eu-central-1.s3, RouteTableIds: [!Ref AppRouteTableA]}}
  EcrDkrEndpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: com.amazonaws.eu-central-1.ecr.dkr
      VpcEndpointType: Interface
      SubnetIds: [!Ref AppSubnetA]
  Service:
    Type: AWS::ECS::Service
    {service_depends}
    Properties:
      Cluster: c
      TaskDefinition: t
      NetworkConfiguration:
        AwsvpcConfiguration: {{Subnets: [!Ref AppSubnetA], AssignPublicIp: DISABLED}}
  Rotation:
    Type: AWS::SecretsManager::RotationSchedule
    {rotation_depends}
    Properties:
      SecretId: s
      HostedRotationLambda:
        RotationType: PostgreSQLSingleUser
        VpcSubnetIds: !Join [',', [!Ref AppSubnetA]]
"""


def test_bad_service_and_rotation_start_beside_their_egress(environment_findings):
    text = TEMPLATE.format(service_depends="", rotation_depends="")
    findings = environment_findings({"s": text}, "SF3006")
    assert [f.message.split(" is ")[0] for f in findings] == ["Service", "Rotation"]
    assert all(
        "AppDefaultRouteA, AppSubnetARouteTableAssociation, EcrDkrEndpoint, S3GatewayEndpoint" in f.message
        for f in findings
    )


def test_bad_partial_dependency_names_what_is_missing(environment_findings):
    text = TEMPLATE.format(service_depends="DependsOn: [AppDefaultRouteA, AppSubnetARouteTableAssociation]",
                           rotation_depends="DependsOn: Service")
    findings = environment_findings({"s": text}, "SF3006")
    # the rotation schedule depends on the service, which lacks the endpoints: both are reported
    assert len(findings) == 2
    assert all("(EcrDkrEndpoint, S3GatewayEndpoint)" in f.message for f in findings)


def test_good_direct_and_transitive_dependencies(environment_findings):
    everything = "DependsOn: [AppDefaultRouteA, AppSubnetARouteTableAssociation, EcrDkrEndpoint, S3GatewayEndpoint]"
    text = TEMPLATE.format(service_depends=everything, rotation_depends="DependsOn: Service")
    assert environment_findings({"s": text}, "SF3006") == []


def test_good_rendered_stacks_wait_for_their_egress(ha, dr):
    from streamflix.checks.rules import ENVIRONMENT_RULES, StackView

    rule = next(r for r in ENVIRONMENT_RULES if r.id == "SF3006")
    for env in ha:
        templates = {"ha-database": ha[env], **dr[env]}
        stacks = [StackView(name, "eu-west-2", f"{name}.yaml", template) for name, template in templates.items()]
        assert rule.check(stacks) == [], env
    # prod: NAT per AZ and the endpoints; the service waits for every AZ's route and association
    service = ha["prod"]["Resources"]["Service"]
    assert {"AppDefaultRouteA", "AppDefaultRouteC", "AppSubnetCRouteTableAssociation", "EcrDkrEndpoint",
            "S3GatewayEndpoint"} <= set(service["DependsOn"])
    rotation = dr["prod"]["dr-primary"]["Resources"]["DatabaseMasterSecretRotation"]
    assert "AppDefaultRouteB" in rotation["DependsOn"]
