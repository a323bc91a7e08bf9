"""SF1003: every subnet an ECS service or Lambda runs in has a way out (seed 000 #5).

A way out is a default route to a NAT (or another gateway), or the ecr.api,
ecr.dkr and logs interface endpoints in the subnet plus the S3 gateway
endpoint on its route table.
"""

import pytest

RULE = "SF1003"

NETWORK = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  AppSubnet:
    Type: AWS::EC2::Subnet::Id
  AppSubnets:
    Type: List<AWS::EC2::Subnet::Id>
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  PrivateSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
  PrivateRouteTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref Vpc
  PrivateSubnetRouteTableAssociation:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref PrivateSubnet
      RouteTableId: !Ref PrivateRouteTable
  OtherSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.2.0/24
  OtherRouteTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref Vpc
  OtherSubnetRouteTableAssociation:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref OtherSubnet
      RouteTableId: !Ref OtherRouteTable
  UnassociatedSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.3.0/24
"""

NAT_ROUTE = """\
  NatGateway:
    Type: AWS::EC2::NatGateway
    Properties:
      AllocationId: eipalloc-0123456789abcdef0
      SubnetId: subnet-0123456789abcdef0
  PrivateDefaultRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref PrivateRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      NatGatewayId: !Ref NatGateway
"""

# A route to somewhere else is not a way out to the internet.
NAT_ROUTE_NOT_DEFAULT = """\
  NatGateway:
    Type: AWS::EC2::NatGateway
    Properties:
      AllocationId: eipalloc-0123456789abcdef0
      SubnetId: subnet-0123456789abcdef0
  PrivateCorporateRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref PrivateRouteTable
      DestinationCidrBlock: 172.16.0.0/12
      NatGatewayId: !Ref NatGateway
"""


def interface_endpoint(name: str, service: str, subnet: str = "PrivateSubnet") -> str:
    return f"""\
  {name}:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      VpcEndpointType: Interface
      PrivateDnsEnabled: true
      ServiceName: !Sub 'com.amazonaws.${{AWS::Region}}.{service}'
      SubnetIds:
        - !Ref {subnet}
"""


def s3_gateway_endpoint(table: str = "PrivateRouteTable", endpoint_type: str | None = "Gateway") -> str:
    type_line = f"      VpcEndpointType: {endpoint_type}\n" if endpoint_type else ""
    return f"""\
  S3Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
{type_line}      ServiceName: !Sub 'com.amazonaws.${{AWS::Region}}.s3'
      RouteTableIds:
        - !Ref {table}
"""


ECR_API = interface_endpoint("EcrApiEndpoint", "ecr.api")
ECR_DKR = interface_endpoint("EcrDkrEndpoint", "ecr.dkr")
LOGS = interface_endpoint("LogsEndpoint", "logs")
S3 = s3_gateway_endpoint()
ALL_ENDPOINTS = {"ecr.api": ECR_API, "ecr.dkr": ECR_DKR, "logs": LOGS, "s3": S3}


def ecs_service(subnets: str = "\n            - !Ref PrivateSubnet") -> str:
    return f"""\
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: streamflix
      LaunchType: FARGATE
      TaskDefinition: arn:aws:ecs:eu-central-1:123456789012:task-definition/app:1
      DesiredCount: 2
      NetworkConfiguration:
        AwsvpcConfiguration:
          AssignPublicIp: DISABLED
          Subnets:{subnets}
"""


def lambda_function(subnet_ids: str = "\n          - !Ref PrivateSubnet") -> str:
    return f"""\
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/fn
      Code:
        ZipFile: "def handler(event, context): pass"
      VpcConfig:
        SecurityGroupIds:
          - sg-0123456789abcdef0
        SubnetIds:{subnet_ids}
"""


SERVICE = ecs_service()
FUNCTION = lambda_function()


def only(findings):
    assert [f.rule for f in findings] == [RULE], findings
    return findings[0]


# --- good -----------------------------------------------------------------


def test_ecs_service_behind_nat(rule_findings):
    assert rule_findings(NETWORK + NAT_ROUTE + SERVICE, RULE) == []


def test_ecs_service_with_all_endpoints_and_no_nat(rule_findings):
    text = NETWORK + ECR_API + ECR_DKR + LOGS + S3 + SERVICE
    assert rule_findings(text, RULE) == []


def test_endpoint_service_name_as_literal_string(rule_findings):
    text = (NETWORK + ECR_API + ECR_DKR + LOGS + S3 + SERVICE).replace(
        "!Sub 'com.amazonaws.${AWS::Region}.logs'", "com.amazonaws.eu-central-1.logs"
    )
    assert "com.amazonaws.eu-central-1.logs" in text
    assert rule_findings(text, RULE) == []


def test_public_subnet_with_internet_gateway_route(rule_findings):
    route = """\
  InternetGateway:
    Type: AWS::EC2::InternetGateway
  PublicDefaultRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref PrivateRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref InternetGateway
"""
    assert rule_findings(NETWORK + route + SERVICE, RULE) == []


def test_lambda_behind_nat(rule_findings):
    assert rule_findings(NETWORK + NAT_ROUTE + FUNCTION, RULE) == []


def test_lambda_outside_vpc(rule_findings):
    function = """\
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/fn
      Code:
        ZipFile: "def handler(event, context): pass"
"""
    assert rule_findings(NETWORK + function, RULE) == []


def test_s3_gateway_endpoint_with_default_type(rule_findings):
    text = NETWORK + ECR_API + ECR_DKR + LOGS + s3_gateway_endpoint(endpoint_type=None) + SERVICE
    assert "VpcEndpointType: Gateway" not in text
    assert rule_findings(text, RULE) == []


# --- bad ------------------------------------------------------------------


def test_ecs_service_in_private_subnet_without_default_route(rule_findings, line_of):
    text = NETWORK + SERVICE
    finding = only(rule_findings(text, RULE))
    assert "ECS service Service runs in PrivateSubnet" in finding.message
    assert "route table PrivateRouteTable has no default route to a NAT" in finding.message
    assert "ecr.api, ecr.dkr, logs + S3 gateway endpoints" in finding.message
    assert finding.line == line_of(text, "Type: AWS::ECS::Service")


def test_route_that_is_not_default_does_not_count(rule_findings):
    finding = only(rule_findings(NETWORK + NAT_ROUTE_NOT_DEFAULT + SERVICE, RULE))
    assert "has no default route" in finding.message


def test_nat_route_on_another_route_table_does_not_count(rule_findings):
    text = NETWORK + NAT_ROUTE.replace("RouteTableId: !Ref PrivateRouteTable", "RouteTableId: !Ref OtherRouteTable")
    finding = only(rule_findings(text + SERVICE, RULE))
    assert "PrivateRouteTable has no default route" in finding.message


@pytest.mark.parametrize("missing", sorted(ALL_ENDPOINTS))
def test_endpoints_missing_one(rule_findings, missing, line_of):
    text = NETWORK + "".join(block for name, block in ALL_ENDPOINTS.items() if name != missing) + SERVICE
    finding = only(rule_findings(text, RULE))
    assert "ECS service Service runs in PrivateSubnet" in finding.message
    assert "has no default route to a NAT" in finding.message
    assert finding.line == line_of(text, "Type: AWS::ECS::Service")


def test_interface_endpoints_in_another_subnet(rule_findings):
    endpoints = (
        interface_endpoint("EcrApiEndpoint", "ecr.api", subnet="OtherSubnet")
        + interface_endpoint("EcrDkrEndpoint", "ecr.dkr")
        + interface_endpoint("LogsEndpoint", "logs")
    )
    finding = only(rule_findings(NETWORK + endpoints + S3 + SERVICE, RULE))
    assert "PrivateSubnet" in finding.message


def test_s3_gateway_on_another_route_table(rule_findings):
    text = NETWORK + ECR_API + ECR_DKR + LOGS + s3_gateway_endpoint(table="OtherRouteTable") + SERVICE
    finding = only(rule_findings(text, RULE))
    assert "PrivateRouteTable has no default route" in finding.message


def test_lambda_in_isolated_subnet(rule_findings, line_of):
    text = NETWORK + NAT_ROUTE + lambda_function("\n          - !Ref OtherSubnet")
    finding = only(rule_findings(text, RULE))
    assert "Lambda Function runs in OtherSubnet" in finding.message
    assert "route table OtherRouteTable has no default route" in finding.message
    assert finding.line == line_of(text, "Type: AWS::Lambda::Function")


def test_one_finding_per_subnet_without_egress(rule_findings):
    subnets = "\n            - !Ref PrivateSubnet\n            - !Ref OtherSubnet"
    findings = rule_findings(NETWORK + NAT_ROUTE + ecs_service(subnets), RULE)
    assert len(findings) == 1
    assert "runs in OtherSubnet" in findings[0].message


def test_subnet_without_route_table_association(rule_findings):
    text = NETWORK + NAT_ROUTE + ecs_service("\n            - !Ref UnassociatedSubnet")
    finding = only(rule_findings(text, RULE))
    assert "runs in UnassociatedSubnet, which has no route table association" in finding.message


def test_subnet_from_a_parameter(rule_findings, line_of):
    # The rule cannot see the parameter's route table, so it cannot prove egress.
    text = NETWORK + NAT_ROUTE + ecs_service("\n            - !Ref AppSubnet")
    finding = only(rule_findings(text, RULE))
    assert "ECS service Service runs in a subnet not defined in this template" in finding.message
    assert finding.line == line_of(text, "Type: AWS::ECS::Service")


@pytest.mark.parametrize(
    "subnets",
    [
        "\n            - subnet-0123456789abcdef0",
        "\n            - !ImportValue network-PrivateSubnet",
        " !Ref AppSubnets",
    ],
    ids=["literal-id", "import-value", "list-parameter"],
)
def test_subnet_not_defined_in_template(rule_findings, subnets):
    finding = only(rule_findings(NETWORK + NAT_ROUTE + ecs_service(subnets), RULE))
    assert "runs in a subnet not defined in this template; egress cannot be proven" in finding.message


def test_lambda_subnet_not_defined_in_template(rule_findings):
    finding = only(rule_findings(NETWORK + NAT_ROUTE + lambda_function(" !Ref AppSubnets"), RULE))
    assert "Lambda Function runs in a subnet not defined in this template" in finding.message
