//! Two CloudFormation stacks shaped like an AWS Copilot environment (network, cluster, public
//! load balancer with its listener) and a Copilot load-balanced web service (roles, log group,
//! task definition, target group, listener rule, service), created in the emulator. Copilot's
//! custom resources (Lambda functions CloudFormation calls) and its Cloud Map namespace are left
//! out: the emulator's CloudFormation cannot create them (docs/emulator.md).

use aws_sdk_cloudformation::types::Parameter;
use serde_json::json;

use crate::support::{block_on, endpoint};

fn client() -> aws_sdk_cloudformation::Client {
    let config = aws_sdk_cloudformation::config::Builder::new()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudformation::config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_cloudformation::Client::from_conf(config)
}

fn environment_template() -> serde_json::Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "CloudFormation template that represents a test environment by AWS Copilot.",
        "Resources": {
            "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.30.0.0/16", "EnableDnsHostnames": true, "EnableDnsSupport": true}},
            "PublicSubnet1": {"Type": "AWS::EC2::Subnet", "Properties": {"CidrBlock": "10.30.0.0/24", "VpcId": {"Ref": "VPC"}, "AvailabilityZone": "us-east-1a", "MapPublicIpOnLaunch": true}},
            "PublicSubnet2": {"Type": "AWS::EC2::Subnet", "Properties": {"CidrBlock": "10.30.1.0/24", "VpcId": {"Ref": "VPC"}, "AvailabilityZone": "us-east-1b", "MapPublicIpOnLaunch": true}},
            "InternetGateway": {"Type": "AWS::EC2::InternetGateway"},
            "InternetGatewayAttachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"InternetGatewayId": {"Ref": "InternetGateway"}, "VpcId": {"Ref": "VPC"}}},
            "PublicRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}},
            "DefaultPublicRoute": {"Type": "AWS::EC2::Route", "DependsOn": "InternetGatewayAttachment", "Properties": {"RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "InternetGateway"}}},
            "PublicSubnet1RouteTableAssociation": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"RouteTableId": {"Ref": "PublicRouteTable"}, "SubnetId": {"Ref": "PublicSubnet1"}}},
            "PublicSubnet2RouteTableAssociation": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"RouteTableId": {"Ref": "PublicRouteTable"}, "SubnetId": {"Ref": "PublicSubnet2"}}},
            "Cluster": {"Type": "AWS::ECS::Cluster"},
            "PublicHTTPLoadBalancerSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "HTTP access to the public facing load balancer",
                "SecurityGroupIngress": [{"CidrIp": "0.0.0.0/0", "FromPort": 80, "ToPort": 80, "IpProtocol": "tcp"}],
                "VpcId": {"Ref": "VPC"}}},
            "EnvironmentSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "test-env EnvironmentSecurityGroup", "VpcId": {"Ref": "VPC"}}},
            "EnvironmentSecurityGroupIngressFromPublicALB": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "Description": "Ingress from the public ALB", "GroupId": {"Ref": "EnvironmentSecurityGroup"},
                "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                "SourceSecurityGroupId": {"Ref": "PublicHTTPLoadBalancerSecurityGroup"}}},
            "PublicLoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
                "Scheme": "internet-facing", "Type": "application",
                "SecurityGroups": [{"Ref": "PublicHTTPLoadBalancerSecurityGroup"}],
                "Subnets": [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}]}},
            "DefaultHTTPTargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
                "Port": 80, "Protocol": "HTTP", "TargetType": "ip", "VpcId": {"Ref": "VPC"},
                "HealthCheckPath": "/", "HealthCheckIntervalSeconds": 10}},
            "HTTPListener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
                "DefaultActions": [{"TargetGroupArn": {"Ref": "DefaultHTTPTargetGroup"}, "Type": "forward"}],
                "LoadBalancerArn": {"Ref": "PublicLoadBalancer"}, "Port": 80, "Protocol": "HTTP"}}
        }
    })
}

fn service_template(p: &str) -> serde_json::Value {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "CloudFormation template that represents a load balanced web service on Amazon ECS.",
        "Parameters": {
            "ClusterName": {"Type": "String"}, "ListenerArn": {"Type": "String"}, "VpcId": {"Type": "String"},
            "SubnetA": {"Type": "String"}, "SubnetB": {"Type": "String"}, "SecurityGroup": {"Type": "String"}
        },
        "Resources": {
            "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": format!("/copilot/{p}-api"), "RetentionInDays": 30}},
            "ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": format!("{p}-api-ExecutionRole"), "AssumeRolePolicyDocument": trust,
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]}},
            "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": format!("{p}-api-TaskRole"), "AssumeRolePolicyDocument": trust}},
            "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": format!("{p}-api"), "NetworkMode": "awsvpc", "RequiresCompatibilities": ["FARGATE"],
                "Cpu": "256", "Memory": "512",
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}, "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
                "ContainerDefinitions": [{"Name": "api", "Image": "public.ecr.aws/nginx/nginx:latest", "Essential": true,
                    "PortMappings": [{"ContainerPort": 8080}]}]}},
            "TargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
                "Port": 8080, "Protocol": "HTTP", "TargetType": "ip", "VpcId": {"Ref": "VpcId"}, "HealthCheckPath": "/"}},
            "HTTPListenerRule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
                "ListenerArn": {"Ref": "ListenerArn"}, "Priority": 100,
                "Conditions": [{"Field": "path-pattern", "Values": ["/*"]}],
                "Actions": [{"TargetGroupArn": {"Ref": "TargetGroup"}, "Type": "forward"}]}},
            "Service": {"Type": "AWS::ECS::Service", "DependsOn": "HTTPListenerRule", "Properties": {
                "ServiceName": format!("{p}-api"),
                "Cluster": {"Ref": "ClusterName"}, "TaskDefinition": {"Ref": "TaskDefinition"}, "DesiredCount": 1,
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED",
                    "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}], "SecurityGroups": [{"Ref": "SecurityGroup"}]}},
                "LoadBalancers": [{"ContainerName": "api", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "TargetGroup"}}]}}
        }
    })
}

/// Creates `{p}-test` (the environment) and `{p}-test-api` (the service); returns their names.
pub fn deploy(p: &str) -> (String, String) {
    block_on(async {
        let cloudformation = client();
        let environment = format!("{p}-test");
        cloudformation
            .create_stack()
            .stack_name(&environment)
            .template_body(environment_template().to_string())
            .send()
            .await
            .expect("CreateStack environment");
        let resources = cloudformation.list_stack_resources().stack_name(&environment).send().await.expect("list");
        let physical = |logical: &str| {
            resources
                .stack_resource_summaries()
                .iter()
                .find(|r| r.logical_resource_id() == Some(logical))
                .and_then(|r| r.physical_resource_id())
                .unwrap_or_else(|| panic!("the environment has no `{logical}`"))
                .to_string()
        };
        // Copilot tags its cluster; the emulator's CloudFormation drops `Tags`, and its tagging API
        // fails while an untagged cluster exists (docs/emulator.md), so the tags are added here.
        let cluster_arn = format!("arn:aws:ecs:us-east-1:123456789012:cluster/{}", physical("Cluster"));
        crate::support::ecs()
            .tag_resource()
            .resource_arn(cluster_arn)
            .tags(aws_sdk_ecs::types::Tag::builder().key("copilot-environment").value("test").build())
            .send()
            .await
            .expect("TagResource");
        let parameter =
            |key: &str, value: String| Parameter::builder().parameter_key(key).parameter_value(value).build();
        let service = format!("{p}-test-api");
        cloudformation
            .create_stack()
            .stack_name(&service)
            .template_body(service_template(p).to_string())
            .parameters(parameter("ClusterName", physical("Cluster")))
            .parameters(parameter("ListenerArn", physical("HTTPListener")))
            .parameters(parameter("VpcId", physical("VPC")))
            .parameters(parameter("SubnetA", physical("PublicSubnet1")))
            .parameters(parameter("SubnetB", physical("PublicSubnet2")))
            .parameters(parameter("SecurityGroup", physical("EnvironmentSecurityGroup")))
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("CreateStack service");
        // The emulator's CloudFormation makes no `SubnetRouteTableAssociation` and gives the
        // service no network (docs/emulator.md); AWS would have both from these templates.
        for subnet in ["PublicSubnet1", "PublicSubnet2"] {
            crate::support::ec2()
                .associate_route_table()
                .route_table_id(physical("PublicRouteTable"))
                .subnet_id(physical(subnet))
                .send()
                .await
                .expect("AssociateRouteTable");
        }
        let listed = cloudformation.list_stack_resources().stack_name(&service).send().await.expect("list");
        let service_arn = listed
            .stack_resource_summaries()
            .iter()
            .find(|r| r.logical_resource_id() == Some("Service"))
            .and_then(|r| r.physical_resource_id())
            .expect("the service")
            .to_string();
        let network = aws_sdk_ecs::types::AwsVpcConfiguration::builder()
            .subnets(physical("PublicSubnet1"))
            .subnets(physical("PublicSubnet2"))
            .security_groups(physical("EnvironmentSecurityGroup"))
            .assign_public_ip(aws_sdk_ecs::types::AssignPublicIp::Enabled)
            .build()
            .expect("network");
        crate::support::ecs()
            .update_service()
            .cluster(physical("Cluster"))
            .service(service_arn)
            .network_configuration(
                aws_sdk_ecs::types::NetworkConfiguration::builder().awsvpc_configuration(network).build(),
            )
            .send()
            .await
            .expect("UpdateService");
        (environment, service)
    })
}

pub fn stack_status(name: &str) -> String {
    block_on(async {
        let stacks = client().describe_stacks().stack_name(name).send().await.expect("DescribeStacks");
        stacks.stacks()[0].stack_status().map(|s| s.as_str().to_string()).unwrap_or_default()
    })
}

pub fn log_group_exists(name: &str) -> bool {
    block_on(async {
        let groups = crate::support::logs().describe_log_groups().log_group_name_prefix(name).send().await;
        groups.expect("DescribeLogGroups").log_groups().iter().any(|group| group.log_group_name() == Some(name))
    })
}

/// The physical id of a stack's resource.
pub fn physical_id(stack: &str, logical: &str) -> String {
    block_on(async {
        let resources = client().list_stack_resources().stack_name(stack).send().await.expect("ListStackResources");
        resources
            .stack_resource_summaries()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical))
            .and_then(|r| r.physical_resource_id())
            .unwrap_or_else(|| panic!("`{stack}` has no `{logical}`"))
            .to_string()
    })
}

/// A security group's tags as the emulator holds them.
pub fn security_group_tags(group: &str) -> std::collections::BTreeMap<String, String> {
    block_on(async {
        let answer = crate::support::ec2().describe_security_groups().group_ids(group).send().await;
        let groups = answer.expect("DescribeSecurityGroups");
        groups.security_groups()[0]
            .tags()
            .iter()
            .map(|tag| (tag.key().unwrap_or_default().to_string(), tag.value().unwrap_or_default().to_string()))
            .collect()
    })
}
