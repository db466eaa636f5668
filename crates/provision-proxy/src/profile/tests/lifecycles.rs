//! The profile's lifecycles and completions against answers written here (no emulator): statuses
//! rewritten for a while on a paused clock, and what moto lacks answered as AWS answers.

use std::time::Duration;

use super::*;

const DB: &str = "<DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus><Endpoint><Address>a</Address></Endpoint><DBSubnetGroup><DBSubnetGroupName>g</DBSubnetGroupName></DBSubnetGroup></DBInstance>";

fn describe_db(profile: &Profile, upstream: Response) -> Response {
    profile.after(&query("rds", "Action=DescribeDBInstances&DBInstanceIdentifier=db1"), upstream)
}

#[test]
fn a_database_is_creating_then_backing_up_then_available_and_deleting_then_gone() {
    let profile = profile();
    let listed = || {
        xml(200, &format!("<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>{DB}</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>"))
    };
    let created = profile.after(
        &query("rds", "Action=CreateDBInstance&DBInstanceIdentifier=db1&DBSubnetGroupName=g"),
        xml(200, &format!("<CreateDBInstanceResponse><CreateDBInstanceResult>{DB}</CreateDBInstanceResult></CreateDBInstanceResponse>")),
    );
    assert!(created.text().contains("<DBInstanceStatus>creating</DBInstanceStatus>"));
    let status = |response: &Response| response.xml().unwrap().texts_of("DBInstanceStatus").join(",");
    let first = describe_db(&profile, listed());
    assert_eq!(status(&first), "creating");
    assert!(!first.text().contains("<Endpoint>"), "no endpoint while creating");
    profile.clock().advance(Duration::from_secs(5 * 60));
    assert_eq!(status(&describe_db(&profile, listed())), "backing-up");
    profile.clock().advance(Duration::from_secs(2 * 60));
    assert_eq!(status(&describe_db(&profile, listed())), "available");
    profile.after(
        &query("rds", "Action=DeleteDBInstance&DBInstanceIdentifier=db1"),
        xml(200, &format!("<DeleteDBInstanceResponse><DeleteDBInstanceResult>{DB}</DeleteDBInstanceResult></DeleteDBInstanceResponse>")),
    );
    // moto forgets it at once; the profile still shows it deleting, and its subnet group in use.
    let gone = || xml(404, "<ErrorResponse><Error><Code>DBInstanceNotFound</Code></Error></ErrorResponse>");
    let deleting = describe_db(&profile, gone());
    assert_eq!((deleting.status, status(&deleting)), (200, "deleting".to_string()));
    let subnet_group = query("rds", "Action=DeleteDBSubnetGroup&DBSubnetGroupName=g");
    assert!(answered(profile.before(&subnet_group)).text().contains("InvalidDBSubnetGroupStateFault"));
    profile.clock().advance(Duration::from_secs(4 * 60));
    assert_eq!(describe_db(&profile, gone()).status, 404);
    assert!(forwarded(profile.before(&subnet_group)));
    assert!(profile.met("rds.instance-lifecycle") >= 4);
}

#[test]
fn a_service_update_shows_a_deployment_in_progress_then_completed() {
    let profile = profile();
    let service = r#"{"service":{"serviceArn":"arn:svc","clusterArn":"arn:c","desiredCount":2,"runningCount":10,"taskDefinition":"arn:td:1","deployments":[{"id":"ecs-svc/1","status":"PRIMARY","desiredCount":2,"runningCount":10}]}}"#;
    let json = |body: &str| Response::new(200, "application/x-amz-json-1.1", body.to_string());
    profile.after(&json_call("ecs", "X.CreateService", "{}"), json(service));
    profile.clock().advance(Duration::from_secs(3 * 60));
    let updated = service.replace(
        "\"desiredCount\":2,\"runningCount\":10,\"taskDefinition\"",
        "\"desiredCount\":3,\"runningCount\":3,\"taskDefinition\"",
    );
    profile.after(&json_call("ecs", "X.UpdateService", r#"{"desiredCount":3}"#), json(&updated));
    let describe = |profile: &Profile| {
        let answer = profile.after(
            &json_call("ecs", "X.DescribeServices", "{}"),
            json(&format!("{{\"services\":[{}],\"failures\":[]}}", &updated[11..updated.len() - 1])),
        );
        serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["services"][0].clone()
    };
    let during = describe(&profile);
    assert_eq!(during["deployments"].as_array().unwrap().len(), 2, "{during}");
    assert_eq!(during["deployments"][0]["rolloutState"], "IN_PROGRESS");
    assert_eq!(during["deployments"][1]["status"], "ACTIVE");
    assert!(during["deployments"][0]["runningCount"].as_i64().unwrap() < 3);
    profile.clock().advance(Duration::from_secs(3 * 60));
    let after = describe(&profile);
    assert_eq!(after["deployments"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(
        (after["deployments"][0]["rolloutState"].as_str(), after["runningCount"].as_i64()),
        (Some("COMPLETED"), Some(3))
    );
}

#[test]
fn an_elasticache_modification_is_answered_and_later_reads_agree() {
    let profile = profile();
    let group = "<ReplicationGroup><ReplicationGroupId>rg</ReplicationGroupId><Status>available</Status><MemberClusters><ClusterId>rg-001</ClusterId></MemberClusters><NodeGroups><NodeGroup><Status>available</Status><NodeGroupMembers><NodeGroupMember><CacheClusterId>rg-001</CacheClusterId><ReadEndpoint><Address>rg-001.x</Address></ReadEndpoint><CurrentRole>primary</CurrentRole></NodeGroupMember></NodeGroupMembers></NodeGroup></NodeGroups><CacheNodeType>cache.t3.micro</CacheNodeType></ReplicationGroup>";
    let describe = |profile: &Profile| {
        let upstream = xml(200, &format!("<DescribeReplicationGroupsResponse><DescribeReplicationGroupsResult><ReplicationGroups>{group}</ReplicationGroups></DescribeReplicationGroupsResult></DescribeReplicationGroupsResponse>"));
        profile.after(&query("elasticache", "Action=DescribeReplicationGroups&ReplicationGroupId=rg"), upstream)
    };
    profile.after(
        &query("elasticache", "Action=CreateReplicationGroup&ReplicationGroupId=rg&CacheSubnetGroupName=csg"),
        xml(200, &format!("<CreateReplicationGroupResponse><CreateReplicationGroupResult>{group}</CreateReplicationGroupResult></CreateReplicationGroupResponse>")),
    );
    assert_eq!(describe(&profile).xml().unwrap().texts_of("Status")[0], "creating");
    let modify = query(
        "elasticache",
        "Action=ModifyReplicationGroup&ReplicationGroupId=rg&CacheNodeType=cache.t3.small&ApplyImmediately=true",
    );
    assert!(answered(profile.before(&modify)).text().contains("InvalidReplicationGroupState"), "busy while creating");
    profile.clock().advance(Duration::from_secs(6 * 60));
    let answer = answered(profile.before(&modify));
    assert!(
        answer.text().contains("<ModifyReplicationGroupResult><ReplicationGroup>")
            && answer.text().contains("<Status>modifying</Status>")
    );
    let increase = query(
        "elasticache",
        "Action=IncreaseReplicaCount&ReplicationGroupId=rg&NewReplicaCount=2&ApplyImmediately=true",
    );
    assert!(answered(profile.before(&increase)).text().contains("InvalidReplicationGroupState"));
    let delete = query("elasticache", "Action=DeleteReplicationGroup&ReplicationGroupId=rg");
    assert!(answered(profile.before(&delete)).text().contains("InvalidReplicationGroupState"), "not while modifying");
    profile.clock().advance(Duration::from_secs(3 * 60));
    let read = describe(&profile).xml().unwrap();
    assert_eq!(
        (read.texts_of("CacheNodeType"), read.texts_of("Status")[0].as_str()),
        (vec!["cache.t3.small".to_string()], "available")
    );
    answered(profile.before(&increase));
    profile.clock().advance(Duration::from_secs(3 * 60));
    let read = describe(&profile).xml().unwrap();
    assert_eq!(read.texts_of("ClusterId"), ["rg-001", "rg-002", "rg-003"]);
    assert_eq!(read.texts_of("CurrentRole"), ["primary", "replica", "replica"]);
    // A delete stays `deleting` (as moto says) for the window, then the group is gone.
    profile.after(&query("elasticache", "Action=DeleteReplicationGroup&ReplicationGroupId=rg"), xml(200, "<R/>"));
    assert!(answered(profile.before(&query("elasticache", "Action=DeleteCacheSubnetGroup&CacheSubnetGroupName=csg")))
        .text()
        .contains("CacheSubnetGroupInUse"));
    profile.clock().advance(Duration::from_secs(4 * 60));
    assert_eq!(describe(&profile).status, 404);
}

/// moto cannot delete a cache subnet group: the profile does, and a create of the same name after
/// it (a destroy, then an apply) succeeds as on AWS, although moto still answers that it exists.
#[test]
fn a_cache_subnet_group_the_profile_deleted_can_be_made_again() {
    let profile = profile();
    let create = query(
        "elasticache",
        "Action=CreateCacheSubnetGroup&CacheSubnetGroupName=csg&CacheSubnetGroupDescription=d&SubnetIds.member.1=s",
    );
    profile.after(&create, xml(200, "<CreateCacheSubnetGroupResponse/>"));
    let delete = query("elasticache", "Action=DeleteCacheSubnetGroup&CacheSubnetGroupName=csg");
    assert_eq!(answered(profile.before(&delete)).status, 200);
    let exists = "<ErrorResponse><Error><Type>Sender</Type><Code>CacheSubnetGroupAlreadyExists</Code>\
                  <Message>CacheSubnetGroup csg already exists.</Message></Error></ErrorResponse>";
    let again = profile.after(&create, xml(400, exists));
    assert_eq!(again.status, 200, "{}", again.text());
    assert!(again.text().contains("<CacheSubnetGroupName>csg</CacheSubnetGroupName>"), "{}", again.text());
    assert_eq!(profile.after(&create, xml(400, exists)).status, 400, "made again: a second create is refused");

    // Made again in another network: reads show the new subnets, not the ones moto kept.
    assert_eq!(answered(profile.before(&delete)).status, 200);
    let elsewhere = query(
        "elasticache",
        "Action=CreateCacheSubnetGroup&CacheSubnetGroupName=csg&CacheSubnetGroupDescription=d&SubnetIds.SubnetIdentifier.1=new-a&SubnetIds.SubnetIdentifier.2=new-b",
    );
    assert_eq!(profile.after(&elsewhere, xml(400, exists)).status, 200);
    let moto_says = "<DescribeCacheSubnetGroupsResponse><DescribeCacheSubnetGroupsResult><CacheSubnetGroups><CacheSubnetGroup>\
                     <CacheSubnetGroupName>csg</CacheSubnetGroupName><Subnets><Subnet><SubnetIdentifier>s</SubnetIdentifier></Subnet></Subnets>\
                     </CacheSubnetGroup></CacheSubnetGroups></DescribeCacheSubnetGroupsResult></DescribeCacheSubnetGroupsResponse>";
    let describe = query("elasticache", "Action=DescribeCacheSubnetGroups&CacheSubnetGroupName=csg");
    let read = profile.after(&describe, xml(200, moto_says)).xml().unwrap();
    assert_eq!(read.texts_of("SubnetIdentifier"), ["new-a", "new-b"]);
}

/// A lost answer's retry meets what AWS answers, not what moto does: a second control of a name
/// taken is refused, and a delete of one already deleted is "no such control".
#[test]
fn an_origin_access_control_name_is_taken_once_and_a_gone_control_is_not_found() {
    let profile = profile();
    let auth = signed("cloudfront");
    let body =
        "<OriginAccessControlConfig><Name>shop-cdn</Name><Description>d</Description></OriginAccessControlConfig>";
    let create = call("POST", "/2020-05-31/origin-access-control", &[("Authorization", &auth)], body);
    assert!(forwarded(profile.before(&create)));
    let made = "<OriginAccessControl><Id>OAC1</Id><OriginAccessControlConfig><Name>shop-cdn</Name></OriginAccessControlConfig></OriginAccessControl>";
    profile.after(&create, xml(201, made));
    let refused = answered(profile.before(&create));
    assert_eq!(refused.status, 409);
    assert!(refused.text().contains("<Code>OriginAccessControlAlreadyExists</Code>"), "{}", refused.text());
    let delete = call("DELETE", "/2020-05-31/origin-access-control/OAC1", &[("Authorization", &auth)], "");
    assert!(forwarded(profile.before(&delete)));
    profile.after(&delete, Response::new(204, "text/xml", ""));
    let gone = answered(profile.before(&delete));
    assert_eq!(gone.status, 404);
    assert!(gone.text().contains("<Code>NoSuchOriginAccessControl</Code>"), "{}", gone.text());
    assert!(forwarded(profile.before(&create)), "the name is free again");

    // moto forgets an origin's control; reads show it as the create wrote it.
    let config = "<DistributionConfig><Origins><Items><Origin><Id>s3</Id><DomainName>b.s3.amazonaws.com</DomainName>\
                  <OriginAccessControlId>OAC2</OriginAccessControlId></Origin></Items></Origins></DistributionConfig>";
    let made = call("POST", "/2020-05-31/distribution", &[("Authorization", &auth)], config);
    profile.after(&made, xml(201, "<Distribution><Id>E1</Id></Distribution>"));
    let read = call("GET", "/2020-05-31/distribution/E1/config", &[("Authorization", &auth)], "");
    let moto = "<DistributionConfig><Origins><Items><Origin><Id>s3</Id><DomainName>b.s3.amazonaws.com</DomainName></Origin></Items></Origins></DistributionConfig>";
    let answer = profile.after(&read, xml(200, moto));
    assert!(answer.text().contains("<OriginAccessControlId>OAC2</OriginAccessControlId>"), "{}", answer.text());
}

/// A database cannot be deleted with a final snapshot while it is creating; without one it can.
#[test]
fn a_database_busy_creating_refuses_a_delete_that_wants_a_final_snapshot() {
    let profile = profile();
    let create = query("rds", "Action=CreateDBInstance&DBInstanceIdentifier=db1");
    profile.after(&create, xml(200, &format!("<CreateDBInstanceResponse><CreateDBInstanceResult>{DB}</CreateDBInstanceResult></CreateDBInstanceResponse>")));
    let with_snapshot =
        query("rds", "Action=DeleteDBInstance&DBInstanceIdentifier=db1&FinalDBSnapshotIdentifier=db1-final");
    let refused = answered(profile.before(&with_snapshot));
    assert!(refused.text().contains("<Code>InvalidDBInstanceState</Code>"), "{}", refused.text());
    assert!(refused.text().contains("Instance is currently creating - a final snapshot cannot be taken."));
    let without = query("rds", "Action=DeleteDBInstance&DBInstanceIdentifier=db1&SkipFinalSnapshot=true");
    assert!(forwarded(profile.before(&without)));
    profile.clock().advance(Duration::from_secs(7 * 60));
    assert!(forwarded(profile.before(&with_snapshot)), "available again");
}

/// Each record change is `PENDING` for a while under an id of its own, then `INSYNC`.
#[test]
fn a_record_change_is_pending_then_in_sync() {
    let profile = profile();
    let auth = signed("route53");
    let change = call(
        "POST",
        "/2013-04-01/hostedzone/Z1/rrset",
        &[("Authorization", &auth)],
        "<ChangeResourceRecordSetsRequest/>",
    );
    let moto = "<ChangeResourceRecordSetsResponse><ChangeInfo><Status>INSYNC</Status><Id>/change/C2682N5HXP0BZ4</Id></ChangeInfo></ChangeResourceRecordSetsResponse>";
    let answer = profile.after(&change, xml(200, moto)).xml().unwrap();
    assert_eq!(answer.texts_of("Status"), ["PENDING"]);
    let id = answer.texts_of("Id").remove(0);
    assert_ne!(id, "/change/C2682N5HXP0BZ4", "a change of its own");
    let get = call("GET", &format!("/2013-04-01{id}"), &[("Authorization", &auth)], "");
    assert_eq!(answered(profile.before(&get)).xml().unwrap().texts_of("Status"), ["PENDING"]);
    profile.clock().advance(Duration::from_secs(30));
    assert_eq!(answered(profile.before(&get)).xml().unwrap().texts_of("Status"), ["INSYNC"]);
}

/// A deleted group, asked for by id, is still answered for moments, as last seen.
#[test]
fn a_deleted_group_is_still_listed_for_moments() {
    let profile = profile();
    let describe = query("ec2", "Action=DescribeSecurityGroups&GroupId.1=sg-1");
    let seen = "<DescribeSecurityGroupsResponse><securityGroupInfo><item><groupId>sg-1</groupId><groupName>web</groupName></item></securityGroupInfo></DescribeSecurityGroupsResponse>";
    profile.after(&describe, xml(200, seen));
    profile.after(&query("ec2", "Action=DeleteSecurityGroup&GroupId=sg-1"), xml(200, "<DeleteSecurityGroupResponse/>"));
    let still = answered(profile.before(&describe));
    assert!(still.text().contains("<groupId>sg-1</groupId>"), "{}", still.text());
    profile.clock().advance(Duration::from_secs(10));
    assert!(forwarded(profile.before(&describe)), "gone after the window");
}

/// A second create of the same load balancer or listener answers the first, as on AWS.
#[test]
fn load_balancer_and_listener_creates_are_idempotent() {
    let profile = profile();
    let create = query("elasticloadbalancing", "Action=CreateLoadBalancer&Name=web&Subnets.member.1=s-1");
    let made = "<CreateLoadBalancerResponse><CreateLoadBalancerResult><LoadBalancers><member><LoadBalancerArn>arn:lb/app/web/1</LoadBalancerArn></member></LoadBalancers></CreateLoadBalancerResult></CreateLoadBalancerResponse>";
    assert!(forwarded(profile.before(&create)));
    profile.after(&create, xml(200, made));
    assert!(answered(profile.before(&create)).text().contains("arn:lb/app/web/1"));
    let delete = query("elasticloadbalancing", "Action=DeleteLoadBalancer&LoadBalancerArn=arn:lb/app/web/1");
    profile.after(&delete, xml(200, "<DeleteLoadBalancerResponse/>"));
    assert!(forwarded(profile.before(&create)), "a new one once the first is deleted");
}

#[test]
fn a_role_takes_one_policy_call_at_a_time() {
    let profile = profile();
    let attach = |policy: &str| query("iam", &format!("Action=AttachRolePolicy&RoleName=task&PolicyArn={policy}"));
    assert!(forwarded(profile.before(&attach("a"))), "the first one goes through");
    let refused = answered(profile.before(&attach("b")));
    assert_eq!(refused.status, 409);
    assert!(refused.text().contains("<Code>ConcurrentModification</Code>"));
    assert!(forwarded(profile.before(&query("iam", "Action=AttachRolePolicy&RoleName=other&PolicyArn=a"))));
    profile.after(&attach("a"), xml(200, "<AttachRolePolicyResponse/>"));
    assert!(forwarded(profile.before(&attach("b"))), "free once the first answered");
}

#[test]
fn a_fargate_task_is_run_and_stops_with_its_commands_exit_code() {
    let profile = profile();
    let definition = r#"{"taskDefinition":{"taskDefinitionArn":"arn:aws:ecs:us-east-1:1:task-definition/web:1","family":"web","revision":1,"containerDefinitions":[{"name":"app","command":["./serve"]}]}}"#;
    let register = json_call("ecs", "X.RegisterTaskDefinition", "{}");
    profile.after(&register, Response::new(200, "application/x-amz-json-1.1", definition));
    let run = json_call(
        "ecs",
        "X.RunTask",
        r#"{"cluster":"c","taskDefinition":"web","launchType":"FARGATE","overrides":{"containerOverrides":[{"name":"app","command":["sh","-c","exit 4"]}]}}"#,
    );
    let ran: serde_json::Value = serde_json::from_slice(&answered(profile.before(&run)).body).unwrap();
    let task = ran["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert_eq!(ran["tasks"][0]["lastStatus"], "PROVISIONING");
    assert!(task.starts_with("arn:aws:ecs:us-east-1:1:task/c/"), "{task}");
    let describe = |profile: &Profile| {
        let call =
            json_call("ecs", "X.DescribeTasks", &serde_json::json!({"cluster": "c", "tasks": [task]}).to_string());
        serde_json::from_slice::<serde_json::Value>(&answered(profile.before(&call)).body).unwrap()["tasks"][0].clone()
    };
    profile.clock().advance(Duration::from_secs(60));
    assert_eq!(describe(&profile)["lastStatus"], "RUNNING");
    profile.clock().advance(Duration::from_secs(60));
    let stopped = describe(&profile);
    assert_eq!(
        (stopped["lastStatus"].as_str(), stopped["containers"][0]["exitCode"].as_i64()),
        (Some("STOPPED"), Some(4))
    );
    assert_eq!(stopped["stopCode"], "EssentialContainerExited");
    let unknown = json_call("ecs", "X.DescribeTasks", r#"{"tasks":["arn:other"]}"#);
    assert!(forwarded(profile.before(&unknown)), "tasks the profile did not run are the emulator's");
}

#[test]
fn a_gateway_endpoint_delete_that_the_emulator_fails_is_answered_and_reads_deleted() {
    let profile = profile();
    let delete = query("ec2", "Action=DeleteVpcEndpoints&VpcEndpointId.1=vpce-1");
    let answer = profile.after(&delete, Response::new(500, "text/html", "<!doctype html><title>500</title>"));
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("<DeleteVpcEndpointsResponse") && answer.text().contains("<unsuccessful/>"));
    let listed = "<DescribeVpcEndpointsResponse><vpcEndpointSet><item><vpcEndpointId>vpce-1</vpcEndpointId><state>available</state></item></vpcEndpointSet></DescribeVpcEndpointsResponse>";
    let read = profile.after(&query("ec2", "Action=DescribeVpcEndpoints&VpcEndpointId.1=vpce-1"), xml(200, listed));
    assert_eq!(read.xml().unwrap().texts_of("state"), ["deleted"]);
    assert_eq!(profile.met("complete.ec2.delete-vpc-endpoints"), 2);
    let again = "<Response><Errors><Error><Code>InvalidRoute.NotFound</Code><Message>no route</Message></Error></Errors></Response>";
    assert_eq!(profile.after(&delete, xml(400, again)).status, 200, "a second delete (its answer lost) too");
}

/// An interface endpoint is `pending` for a minute after its create and `deleting` for a minute
/// after its delete; a gateway endpoint is `available` at once.
#[test]
fn an_interface_endpoint_is_pending_then_available_and_deleting_then_deleted() {
    let profile = profile();
    let made = |id: &str| {
        format!("<CreateVpcEndpointResponse><vpcEndpoint><vpcEndpointId>{id}</vpcEndpointId><state>available</state></vpcEndpoint></CreateVpcEndpointResponse>")
    };
    let create =
        query("ec2", "Action=CreateVpcEndpoint&VpcEndpointType=Interface&ServiceName=com.amazonaws.us-east-1.ecr.api");
    let answer = profile.after(&create, xml(200, &made("vpce-1")));
    assert_eq!(answer.xml().unwrap().texts_of("state"), ["pending"]);
    let gateway =
        query("ec2", "Action=CreateVpcEndpoint&VpcEndpointType=Gateway&ServiceName=com.amazonaws.us-east-1.s3");
    let answer = profile.after(&gateway, xml(200, &made("vpce-2")));
    assert_eq!(answer.xml().unwrap().texts_of("state"), ["available"]);
    let describe = query("ec2", "Action=DescribeVpcEndpoints&VpcEndpointId.1=vpce-1&VpcEndpointId.2=vpce-2");
    let listed = |state: &str| {
        xml(200, &format!("<DescribeVpcEndpointsResponse><vpcEndpointSet><item><vpcEndpointId>vpce-1</vpcEndpointId><state>{state}</state></item><item><vpcEndpointId>vpce-2</vpcEndpointId><state>{state}</state></item></vpcEndpointSet></DescribeVpcEndpointsResponse>"))
    };
    let read = |state: &str| profile.after(&describe, listed(state)).xml().unwrap().texts_of("state");
    assert_eq!(read("available"), ["pending", "available"]);
    profile.clock().advance(Duration::from_secs(60));
    assert_eq!(read("available"), ["available", "available"]);
    let delete = query("ec2", "Action=DeleteVpcEndpoints&VpcEndpointId.1=vpce-1&VpcEndpointId.2=vpce-2");
    profile.after(&delete, xml(200, "<DeleteVpcEndpointsResponse><unsuccessful/></DeleteVpcEndpointsResponse>"));
    assert_eq!(read("deleted"), ["deleting", "deleted"]);
    profile.clock().advance(Duration::from_secs(60));
    assert_eq!(read("deleted"), ["deleted", "deleted"]);
    assert!(profile.met("ec2.endpoint-lifecycle") >= 3, "{}", profile.summary());
}

#[test]
fn a_certificate_is_pending_until_its_record_is_written_and_unseen_by_cloudfront_for_a_while() {
    let profile = profile();
    let json = |body: &str| Response::new(200, "application/x-amz-json-1.1", body.to_string());
    profile.after(
        &json_call("acm", "CertificateManager.RequestCertificate", r#"{"DomainName":"a.example.com"}"#),
        json(r#"{"CertificateArn":"arn:cert"}"#),
    );
    let described = r#"{"Certificate":{"CertificateArn":"arn:cert","Status":"ISSUED","DomainValidationOptions":[{"ResourceRecord":{"Name":"_x.a.example.com.","Type":"CNAME","Value":"_y"}}]}}"#;
    let status = |profile: &Profile| {
        let answer = profile.after(&json_call("acm", "CertificateManager.DescribeCertificate", "{}"), json(described));
        serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["Certificate"]["Status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status(&profile), "PENDING_VALIDATION", "moto's early ISSUED is not AWS's");
    let auth = signed("cloudfront");
    let distribution = call(
        "POST",
        "/2020-05-31/distribution",
        &[("Authorization", &auth)],
        "<DistributionConfig><ViewerCertificate><ACMCertificateArn>arn:cert</ACMCertificateArn></ViewerCertificate></DistributionConfig>",
    );
    assert!(answered(profile.before(&distribution)).text().contains("InvalidViewerCertificate"));
    let auth = signed("route53");
    let change = "<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>_X.a.example.com</Name></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>";
    profile
        .after(&call("POST", "/2013-04-01/hostedzone/Z1/rrset", &[("Authorization", &auth)], change), xml(200, "<R/>"));
    profile.clock().advance(Duration::from_secs(119));
    assert_eq!(status(&profile), "PENDING_VALIDATION");
    profile.clock().advance(Duration::from_secs(1));
    assert_eq!(status(&profile), "ISSUED");
    assert!(!forwarded(profile.before(&distribution)), "issued moments ago");
    profile.clock().advance(Duration::from_secs(30));
    assert!(forwarded(profile.before(&distribution)));
}
