//! The profile's machinery against answers written here (no emulator): windows on a paused clock,
//! error shapes, rewriting and paging. The lifecycles and completions are in `lifecycles.rs`.

use std::time::Duration;

use super::call::{call, signed, Call};
use super::*;

mod lifecycles;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn profile() -> Profile {
    let profile = Profile::new(ProfileOptions::default());
    profile.clock().pause();
    profile
}

fn query(service: &str, body: &str) -> Call {
    let auth = signed(service);
    call("POST", "/", &[("Authorization", &auth), ("Content-Type", FORM)], body)
}

fn json_call(service: &str, target: &str, body: &str) -> Call {
    let auth = signed(service);
    call("POST", "/", &[("Authorization", &auth), ("X-Amz-Target", target)], body)
}

fn xml(status: u16, body: &str) -> Response {
    Response::new(status, "text/xml", body)
}

fn answered(before: Before) -> Response {
    match before {
        Before::Answer(response) => response,
        Before::Forward { .. } => panic!("expected the profile to answer"),
    }
}

fn forwarded(before: Before) -> bool {
    matches!(before, Before::Forward { .. })
}

#[test]
fn a_new_security_group_is_not_found_until_the_window_passes() {
    let profile = profile();
    let create = query("ec2", "Action=CreateSecurityGroup&GroupName=web&GroupDescription=d");
    profile
        .after(&create, xml(200, "<CreateSecurityGroupResponse><groupId>sg-1</groupId></CreateSecurityGroupResponse>"));
    let authorize = query("ec2", "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.FromPort=80");
    let answer = answered(profile.before(&authorize));
    assert_eq!(answer.status, 400);
    let body = answer.text();
    assert!(body.contains("<Response><Errors><Error><Code>InvalidGroup.NotFound</Code>"), "EC2's shape: {body}");
    assert!(body.contains("<RequestID>"), "{body}");
    profile.clock().advance(Duration::from_secs(9));
    assert!(!forwarded(profile.before(&authorize)), "still inside the 10 s window");
    profile.clock().advance(Duration::from_secs(1));
    assert!(forwarded(profile.before(&authorize)));
    assert_eq!(profile.met("ec2.group-not-found-after-create"), 2);
    assert!(profile.summary().contains("ec2.group-not-found-after-create"));
    let other = query("ec2", "Action=AuthorizeSecurityGroupIngress&GroupId=sg-2");
    assert!(forwarded(profile.before(&other)), "a group the proxy never saw made passes");
}

/// A call naming a VPC just made as a parameter meets its `InvalidVpcID.NotFound`; one that only
/// carries the id in a tag's value does not (a tag value is a string to EC2).
#[test]
fn a_new_vpc_is_not_found_by_calls_that_name_it_but_a_tag_value_is_only_text() {
    let profile = profile();
    profile.after(
        &query("ec2", "Action=CreateVpc&CidrBlock=10.0.0.0%2F16"),
        xml(200, "<CreateVpcResponse><vpc><vpcId>vpc-1</vpcId></vpc></CreateVpcResponse>"),
    );
    let subnet = query("ec2", "Action=CreateSubnet&VpcId=vpc-1&CidrBlock=10.0.0.0%2F24");
    assert!(answered(profile.before(&subnet)).text().contains("<Code>InvalidVpcID.NotFound</Code>"));
    let gateway = query(
        "ec2",
        "Action=CreateInternetGateway&TagSpecification.1.ResourceType=internet-gateway&TagSpecification.1.Tag.1.Key=provision%3Avpc&TagSpecification.1.Tag.1.Value=vpc-1",
    );
    assert!(forwarded(profile.before(&gateway)));
    let tags = query("ec2", "Action=CreateTags&ResourceId.1=igw-1&Tag.1.Key=provision%3Avpc&Tag.1.Value=vpc-1");
    assert!(forwarded(profile.before(&tags)));
}

#[test]
fn rules_turn_off_by_id_and_unknown_ids_are_refused() {
    let profile = profile();
    assert!(profile.disable("no.such-rule").unwrap_err().to_string().contains("`no.such-rule`"));
    profile.disable("ec2.group-not-found-after-create").unwrap();
    profile.after(&query("ec2", "Action=CreateSecurityGroup"), xml(200, "<R><groupId>sg-1</groupId></R>"));
    assert!(forwarded(profile.before(&query("ec2", "Action=CreateTags&ResourceId.1=sg-1"))));
    profile.only(&["ec2.group-not-found-after-create"]).unwrap();
    assert!(!profile.is_enabled("s3.no-such-bucket-after-create"));
    assert!(!forwarded(profile.before(&query("ec2", "Action=CreateTags&ResourceId.1=sg-1"))));
    profile.set_window("ec2.group-not-found-after-create", "window", Duration::ZERO).unwrap();
    assert!(forwarded(profile.before(&query("ec2", "Action=CreateTags&ResourceId.1=sg-1"))));
}

#[test]
fn each_protocol_answers_errors_in_its_own_shape() {
    let profile = profile();
    // JSON (ECS): `__type`.
    let cluster = json_call("ecs", "AmazonEC2ContainerServiceV20141113.CreateCluster", r#"{"clusterName":"c"}"#);
    profile.after(
        &cluster,
        Response::new(200, "application/x-amz-json-1.1", r#"{"cluster":{"clusterName":"c","clusterArn":"arn:c"}}"#),
    );
    let service = json_call(
        "ecs",
        "AmazonEC2ContainerServiceV20141113.CreateService",
        r#"{"cluster":"arn:c","serviceName":"s"}"#,
    );
    let answer = answered(profile.before(&service));
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!((answer.status, body["__type"].as_str()), (400, Some("ClusterNotFoundException")));
    // S3: `<Error><Code>` with a 404.
    let auth = signed("s3");
    profile.after(&call("PUT", "/b1", &[("Authorization", &auth)], ""), Response::new(200, "application/xml", ""));
    let answer = answered(profile.before(&call("PUT", "/b1?versioning", &[("Authorization", &auth)], "<x/>")));
    assert_eq!(answer.status, 404);
    assert!(
        answer.text().contains("<Error><Code>NoSuchBucket</Code>")
            && answer.text().contains("<BucketName>b1</BucketName>")
    );
    // Query (RDS): `<ErrorResponse><Error><Type>Sender</Type><Code>`.
    let throttled = shapes::error(&query("rds", "Action=DescribeDBInstances"), 400, "Throttling", "Rate exceeded");
    assert!(throttled.text().contains("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>Throttling</Code>"));
    // CloudFront: `<ErrorResponse>` too, REST.
    let auth = signed("cloudfront");
    let delete = call("DELETE", "/2020-05-31/distribution/E1", &[("Authorization", &auth)], "");
    let refused = shapes::error(&delete, 409, "DistributionNotDisabled", "m");
    assert!(refused.text().contains("<ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender</Type><Code>DistributionNotDisabled</Code>"));
}

#[test]
fn listings_come_back_a_page_at_a_time_with_each_protocols_token() {
    let profile = profile();
    // JSON (Secrets Manager): NextToken.
    let secrets: Vec<serde_json::Value> = (0..12).map(|n| serde_json::json!({"Name": format!("s{n}")})).collect();
    let list = json_call("secretsmanager", "secretsmanager.ListSecrets", "{}");
    let first = profile.after(
        &list,
        Response::new(200, "application/x-amz-json-1.1", serde_json::json!({"SecretList": secrets}).to_string()),
    );
    let mut page: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    let mut names = Vec::new();
    loop {
        names.extend(page["SecretList"].as_array().unwrap().iter().map(|s| s["Name"].as_str().unwrap().to_string()));
        let Some(token) = page["NextToken"].as_str() else { break };
        assert!(page["SecretList"].as_array().unwrap().len() <= 5);
        let next = json_call(
            "secretsmanager",
            "secretsmanager.ListSecrets",
            &serde_json::json!({"NextToken": token}).to_string(),
        );
        page = serde_json::from_slice(&answered(profile.before(&next)).body).unwrap();
    }
    assert_eq!(names, (0..12).map(|n| format!("s{n}")).collect::<Vec<_>>());
    // Query (IAM): IsTruncated and Marker.
    let roles: String = (0..7).map(|n| format!("<member><RoleName>r{n}</RoleName></member>")).collect();
    let upstream = xml(200, &format!("<ListRolesResponse><ListRolesResult><IsTruncated>false</IsTruncated><Roles>{roles}</Roles></ListRolesResult></ListRolesResponse>"));
    let first = profile.after(&query("iam", "Action=ListRoles&MaxItems=3"), upstream).xml().unwrap();
    let result = first.child("ListRolesResult").unwrap();
    assert_eq!(result.texts_of("RoleName"), ["r0", "r1", "r2"], "the caller's smaller page size wins");
    assert_eq!(result.child_text("IsTruncated").as_deref(), Some("true"));
    let marker = result.child_text("Marker").unwrap();
    let second = answered(profile.before(&query("iam", &format!("Action=ListRoles&Marker={marker}")))).xml().unwrap();
    assert_eq!(second.texts_of("RoleName"), ["r3", "r4", "r5"]);
    // EC2 pages only when asked to.
    let groups: String = (0..7).map(|n| format!("<item><groupId>sg-{n}</groupId></item>")).collect();
    let upstream = || {
        xml(200, &format!("<DescribeSecurityGroupsResponse><securityGroupInfo>{groups}</securityGroupInfo></DescribeSecurityGroupsResponse>"))
    };
    let all = profile.after(&query("ec2", "Action=DescribeSecurityGroups"), upstream());
    assert_eq!(all.xml().unwrap().texts_of("groupId").len(), 7);
    let paged = profile.after(&query("ec2", "Action=DescribeSecurityGroups&MaxResults=10"), upstream()).xml().unwrap();
    assert_eq!(paged.texts_of("groupId").len(), 5);
    assert!(paged.child_text("nextToken").is_some());
    assert!(profile.met("any.paged-listings") >= 4);
}

#[test]
fn a_share_of_mutating_calls_loses_its_answer_and_reads_never_do() {
    let profile = Profile::new(ProfileOptions { lost_responses: 0.5, seed: 3, ..ProfileOptions::default() });
    let lost = (0..200)
        .filter(|_| {
            matches!(profile.before(&query("iam", "Action=TagRole&RoleName=r")), Before::Forward { lose: true, .. })
        })
        .count();
    assert!((60..140).contains(&lost), "{lost}");
    assert!((0..50).all(|_| matches!(
        profile.before(&query("iam", "Action=GetRole&RoleName=r")),
        Before::Forward { lose: false, .. }
    )));
    assert_eq!(profile.met("any.response-lost"), lost as u64);
}

/// A test can lose the answer of one operation: the next calls of it that reach the emulator, no
/// other operation's, and no call the profile answers itself.
#[test]
fn the_answers_of_one_operation_can_be_lost() {
    let profile = profile();
    profile.lose_answers_of("CreateRoute", 1);
    let lost = |body: &str| matches!(profile.before(&query("ec2", body)), Before::Forward { lose: true, .. });
    assert!(!lost("Action=CreateRouteTable&VpcId=vpc-1"), "another operation, though its name starts alike");
    let made = "<CreateVpcResponse><vpc><vpcId>vpc-2</vpcId></vpc></CreateVpcResponse>";
    profile.after(&query("ec2", "Action=CreateVpc&CidrBlock=10.0.0.0/16"), xml(200, made));
    let stale = query("ec2", "Action=CreateRoute&RouteTableId=vpc-2");
    assert!(!forwarded(profile.before(&stale)), "answered by the profile (not found yet): not lost");
    assert!(lost("Action=CreateRoute&RouteTableId=rtb-1"), "the next one that reaches the emulator");
    assert!(!lost("Action=CreateRoute&RouteTableId=rtb-1"), "one only");
    assert_eq!(profile.met("any.response-lost"), 1);
}

/// A repeat of an EC2 call with a client token gets the first answer, as AWS gives it.
#[test]
fn an_ec2_call_repeated_with_its_client_token_answers_the_first_result() {
    let profile = profile();
    let create = |token: &str| query("ec2", &format!("Action=CreateRouteTable&VpcId=vpc-1&ClientToken={token}"));
    assert!(forwarded(profile.before(&create("t1"))));
    let made = "<CreateRouteTableResponse><routeTable><routeTableId>rtb-1</routeTableId></routeTable></CreateRouteTableResponse>";
    profile.after(&create("t1"), xml(200, made));
    assert!(answered(profile.before(&create("t1"))).text().contains("rtb-1"));
    assert!(forwarded(profile.before(&create("t2"))), "another token makes another");
    let failed = query("ec2", "Action=CreateNatGateway&SubnetId=subnet-1&ClientToken=t3");
    profile.after(
        &failed,
        xml(400, "<Response><Errors><Error><Code>InvalidSubnetID.NotFound</Code></Error></Errors></Response>"),
    );
    assert!(forwarded(profile.before(&failed)), "a refused call may be sent again");
    assert_eq!(profile.met("complete.ec2.client-token"), 1);
}

#[test]
fn a_share_of_calls_is_throttled_in_each_protocols_words() {
    let profile = Profile::new(ProfileOptions { throttling: 1.0, ..ProfileOptions::default() });
    let auth = signed("s3");
    let cases = [
        (query("ec2", "Action=DescribeVpcs"), 503, "RequestLimitExceeded"),
        (query("iam", "Action=GetRole"), 400, "Throttling"),
        (json_call("ecs", "X.ListClusters", "{}"), 400, "ThrottlingException"),
        (call("GET", "/b?list-type=2", &[("Authorization", &auth)], ""), 503, "SlowDown"),
    ];
    for (call, status, code) in cases {
        let answer = answered(profile.before(&call));
        assert_eq!(answer.status, status, "{code}");
        assert!(answer.text().contains(code), "{}", answer.text());
    }
    assert_eq!(profile.met("any.throttling"), 4);
}

#[test]
fn a_tag_key_under_aws_is_refused_in_every_protocol_and_other_tags_pass() {
    let profile = profile();
    let refused = |call: &Call| {
        let answer = answered(profile.before(call));
        assert_eq!(answer.status, 400, "{}", answer.text());
        answer.text().to_string()
    };
    let ec2 = refused(&query("ec2", "Action=DeleteTags&ResourceId.1=sg-1&Tag.1.Key=aws%3Acloudformation%3Astack-name"));
    assert!(ec2.contains("<Code>InvalidParameterValue</Code>"), "{ec2}");
    assert!(ec2.contains("Value ( aws:cloudformation:stack-name ) for parameter key is invalid"), "{ec2}");
    let elbv2 =
        refused(&query("elasticloadbalancing", "Action=RemoveTags&ResourceArns.member.1=arn&TagKeys.member.1=AWS%3Ax"));
    assert!(elbv2.contains("<Code>ValidationError</Code>"), "{elbv2}");
    let ecs = refused(&json_call(
        "ecs",
        "AmazonEC2ContainerServiceV20141113.TagResource",
        r#"{"resourceArn":"arn","tags":[{"key":"team","value":"web"},{"key":"aws:cloudformation:logical-id","value":"Cluster"}]}"#,
    ));
    assert!(ecs.contains("InvalidParameterException"), "{ecs}");
    let logs = refused(&json_call("logs", "Logs_20140328.TagResource", r#"{"resourceArn":"a","tags":{"aws:x":"y"}}"#));
    assert!(logs.contains("InvalidParameterException"), "{logs}");
    let auth = signed("s3");
    let body = "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>y</Value></Tag></TagSet></Tagging>";
    let s3 = refused(&call("PUT", "/b?tagging", &[("Authorization", &auth)], body));
    assert!(s3.contains("<Code>InvalidTag</Code>"), "{s3}");
    assert_eq!(profile.met("any.aws-reserved-tags"), 5);

    assert!(forwarded(
        profile.before(&query("ec2", "Action=CreateTags&ResourceId.1=sg-1&Tag.1.Key=team&Tag.1.Value=aws%3Aok"))
    ));
    assert!(forwarded(profile.before(&query("ec2", "Action=DescribeTags&Filter.1.Name=key&Filter.1.Value.1=aws%3Ax"))));
    let body = "<Tagging><TagSet><Tag><Key>awsome</Key><Value>y</Value></Tag></TagSet></Tagging>";
    assert!(forwarded(profile.before(&call("PUT", "/b?tagging", &[("Authorization", &auth)], body))));
    assert_eq!(profile.met("any.aws-reserved-tags"), 5, "a value under `aws:` and reads are no tag writes");
}
