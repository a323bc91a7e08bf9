"""SF3004: EIPs, NAT gateways, internet-facing ALBs and IGW routes DependsOn the attachment (finding 3)."""

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Vpc: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.0.0.0/16}}}}
  Igw: {{Type: AWS::EC2::InternetGateway}}
  Attachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {{VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}}
  Eip:
    Type: AWS::EC2::EIP
    {eip_depends}
    Properties: {{Domain: vpc}}
  Nat:
    Type: AWS::EC2::NatGateway
    Properties: {{AllocationId: !GetAtt Eip.AllocationId, SubnetId: subnet-1}}
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    {lb_depends}
    Properties: {{Scheme: internet-facing, Subnets: [subnet-1]}}
  Internal:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {{Scheme: internal, Subnets: [subnet-1]}}
  Route:
    Type: AWS::EC2::Route
    Properties: {{RouteTableId: rtb-1, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}}
"""


def test_bad_no_dependency_on_the_attachment(environment_findings):
    text = TEMPLATE.format(eip_depends="", lb_depends="")
    findings = environment_findings({"s": text}, "SF3004")
    assert [f.message.split(" is ")[0] for f in findings] == ["Eip", "Nat", "Balancer", "Route"]


def test_good_direct_and_transitive_dependencies(environment_findings):
    text = TEMPLATE.format(eip_depends="DependsOn: Attachment", lb_depends="DependsOn: [Attachment]").replace(
        "GatewayId: !Ref Igw}", "GatewayId: !Ref Igw}\n    DependsOn: Attachment"
    )
    # the NAT gateway depends on the attachment through its EIP
    assert environment_findings({"s": text}, "SF3004") == []
