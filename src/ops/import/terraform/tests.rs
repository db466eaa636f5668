//! The mapping of the two Terraform state fixtures the integration tests deploy for real
//! (`tests/it/fixtures/terraform/`), here with made-up ids.

use super::*;

const FLAT: &str = include_str!("../../../../tests/it/fixtures/terraform/flat.tfstate");
const MODULES: &str = include_str!("../../../../tests/it/fixtures/terraform/modules.tfstate");

fn filled(template: &str) -> String {
    let mut text = template.to_string();
    for (key, value) in [
        ("p", "emp"),
        ("account", "123456789012"),
        ("vpc", "vpc-0abc"),
        ("subnet_a", "subnet-0aaa"),
        ("subnet_b", "subnet-0bbb"),
        ("sg_alb", "sg-0alb"),
        ("sg_ecs", "sg-0ecs"),
        ("sg_db", "sg-0db"),
        ("sg_lb", "sg-0lb"),
        ("igw", "igw-0123"),
        ("alb_arn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/emp-alb/1"),
        ("alb_dns", "emp-alb-1.us-east-1.elb.amazonaws.com"),
        ("tg_arn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/emp-tg/2"),
        ("listener_arn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/emp-alb/1/3"),
        ("rule_arn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/emp-alb/1/3/4"),
        ("oac", "E1OAC"),
        ("distribution", "E2DIST"),
        ("distribution_domain", "d111.cloudfront.net"),
        ("db_password", "correct-horse-battery"),
        ("secret_arn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:emp-api-key-AbCdEf"),
        ("api_key", "s3cr3t-api-key"),
    ] {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

fn map(template: &str) -> (Inventory, Summary) {
    let state = state_file::parse(&filled(template), "t.tfstate").expect("parses");
    inventory(&state, "t.tfstate").expect("maps")
}

fn addresses(inventory: &Inventory) -> Vec<String> {
    inventory.resources.iter().map(|found| found.address.to_string()).collect()
}

fn found<'a>(inventory: &'a Inventory, address: &str) -> &'a Found {
    inventory.resources.iter().find(|f| f.address.to_string() == address).expect(address)
}

#[test]
fn the_flat_web_app_maps_every_resource_and_folds_the_parts() {
    let (inventory, summary) = map(FLAT);
    assert_eq!(summary.data_sources, 2);
    assert_eq!(
        addresses(&inventory),
        [
            "cloudfront_distribution.webapp",
            "log_group.be",
            "db_instance.mysql",
            "db_subnet_group.mysql",
            "ecr_repository.be",
            "ecs_cluster.be",
            "ecs_service.be_service",
            "iam_role.ecs_execution",
            "load_balancer.be",
            "listener.http",
            "target_group.be",
            "s3_bucket.webapp",
            "security_group.alb",
            "security_group.db",
            "security_group.ecs",
        ]
    );
    assert!(inventory.unmapped.is_empty(), "{:?}", inventory.unmapped);
    let bucket = found(&inventory, "s3_bucket.webapp");
    assert_eq!(bucket.id, "emp-webapp");
    assert_eq!(
        bucket.folded,
        ["aws_s3_bucket_policy.webapp", "aws_s3_bucket_public_access_block.webapp", "aws_s3_bucket_versioning.webapp"]
    );
    assert_eq!(bucket.fields.get("force_destroy"), Some(&json!(true)));
    assert_eq!(found(&inventory, "security_group.alb").folded.len(), 2, "an ingress and the allow-all egress rule");
    assert_eq!(found(&inventory, "security_group.ecs").folded, ["aws_security_group_rule.ecs_from_alb"]);
    assert_eq!(found(&inventory, "ecs_service.be_service").folded, ["aws_ecs_task_definition.be"]);
    assert_eq!(found(&inventory, "iam_role.ecs_execution").folded, ["aws_iam_role_policy_attachment.ecs_execution"]);
    assert_eq!(
        found(&inventory, "cloudfront_distribution.webapp").folded,
        ["aws_cloudfront_origin_access_control.webapp"]
    );
    assert_eq!(found(&inventory, "db_instance.mysql").id, "emp-db", "the identifier, not the resource id");
    assert_eq!(found(&inventory, "ecr_repository.be").fields.get("force_destroy"), Some(&json!(true)));
}

#[test]
fn the_database_password_becomes_an_environment_variable_and_is_never_shown() {
    let (inventory, _) = map(FLAT);
    let database = found(&inventory, "db_instance.mysql");
    assert_eq!(database.secrets.len(), 1);
    assert_eq!(database.secrets[0].field, "password");
    assert_eq!(database.secrets[0].variable, "DB_INSTANCE_MYSQL_PASSWORD");
    assert_eq!(database.secrets[0].value.as_deref(), Some("correct-horse-battery"));
    assert_eq!(database.fields.get("skip_final_snapshot"), Some(&json!(true)));
    let shown = format!("{inventory:?}");
    assert!(!shown.contains("correct-horse-battery"), "{shown}");
}

#[test]
fn modules_count_and_for_each_become_readable_names() {
    let (inventory, summary) = map(MODULES);
    assert_eq!(summary.data_sources, 1);
    assert_eq!(
        addresses(&inventory),
        [
            "log_group.app_0",
            "log_group.app_1",
            "iam_role.task_api",
            "iam_role.task_worker",
            "secret.api_key",
            "security_group.network_lb",
            "s3_bucket.storage_assets_this",
            "load_balancer.web_this",
            "listener.web_this_http",
            "listener_rule.web_api",
            "target_group.web_this",
        ]
    );
    assert_eq!(found(&inventory, "secret.api_key").fields.get("recovery_days"), Some(&json!(0)));
    assert_eq!(found(&inventory, "iam_role.task_api").folded, ["aws_iam_role_policy.task[\"api\"]"]);
    let unmapped: Vec<(&str, &str)> =
        inventory.unmapped.iter().map(|u| (u.origin.as_str(), u.reason.as_str())).collect();
    let reason = |origin: &str| unmapped.iter().find(|(o, _)| *o == origin).map(|(_, r)| *r).unwrap_or("(mapped)");
    assert!(reason("aws_iam_policy.extra").contains("customer managed policy"));
    assert!(reason("random_password.api_key").contains("not an AWS resource"));
    assert!(reason("module.network.aws_vpc.this").contains("network"));
    assert!(reason("module.network.aws_subnet.public[1]").contains("network"));
    assert!(reason("module.storage[\"assets\"].aws_s3_bucket_website_configuration.this").contains("website"));
    let notes: Vec<&str> = inventory.notes.iter().map(|n| n.message.as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("inline policy `logs` stays")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("never reads or copies it")), "{notes:?}");
    assert!(!format!("{inventory:?}").contains("s3cr3t-api-key"));
}

#[test]
fn an_empty_state_is_refused() {
    let state = state_file::parse(r#"{"version": 4, "serial": 1, "resources": []}"#, "e.tfstate").unwrap();
    let error = inventory(&state, "e.tfstate").unwrap_err();
    assert!(error.contains("holds no managed resources"), "{error}");
}

#[test]
fn shapes_provision_cannot_hold_are_listed_with_their_parts() {
    let text = r#"{"version": 4, "serial": 1, "resources": [
        {"mode": "managed", "type": "aws_lb", "name": "nlb", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"arn": "arn:lb", "id": "arn:lb", "name": "n", "load_balancer_type": "network"}}]},
        {"mode": "managed", "type": "aws_iam_role", "name": "ci", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"arn": "arn:role", "id": "ci", "name": "ci",
                "assume_role_policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":\"arn:oidc\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\"}]}"}}]},
        {"mode": "managed", "type": "aws_iam_role_policy_attachment", "name": "ci", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"id": "ci-1", "role": "ci", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}]},
        {"mode": "managed", "type": "aws_s3_bucket_versioning", "name": "lost", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"id": "elsewhere", "bucket": "elsewhere"}}]}
    ]}"#;
    let state = state_file::parse(text, "s.tfstate").unwrap();
    let (inventory, _) = inventory(&state, "s.tfstate").unwrap();
    assert!(inventory.resources.is_empty());
    let reasons: Vec<String> = inventory.unmapped.iter().map(|u| format!("{}: {}", u.origin, u.reason)).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].starts_with("aws_lb.nlb: a `network` load balancer"), "{reasons:?}");
    assert!(reasons[1].contains("trust policy"), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r == "aws_iam_role_policy_attachment.ci: it belongs to `aws_iam_role.ci`, which is not adopted"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "aws_s3_bucket_versioning.lost: its `aws_s3_bucket` is not in the state"),
        "{reasons:?}"
    );
}

#[test]
fn each_regional_resource_says_its_region_and_a_certificate_goes_where_its_arn_says() {
    let (inventory, _) = map(FLAT);
    let region = |address: &str| found(&inventory, address).region.clone();
    assert_eq!(region("s3_bucket.webapp").as_deref(), Some("us-east-1"), "a bucket's `region` attribute");
    assert_eq!(region("target_group.be").as_deref(), Some("us-east-1"), "the ARN's region");
    assert_eq!(region("iam_role.ecs_execution"), None, "IAM is global");

    let text = r#"{"version": 4, "serial": 1, "resources": [
        {"mode": "managed", "type": "aws_cloudwatch_log_group", "name": "replica", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"].west",
            "instances": [{"schema_version": 0, "attributes": {"id": "/app/replica", "name": "/app/replica",
                "arn": "arn:aws:logs:us-west-2:123456789012:log-group:/app/replica"}}]},
        {"mode": "managed", "type": "aws_ecr_repository", "name": "api", "provider": "p",
            "instances": [{"schema_version": 0, "attributes": {"id": "api", "name": "api", "region": "eu-central-1",
                "arn": "arn:aws:ecr:eu-central-1:123456789012:repository/api"}}]}
    ]}"#;
    let state = state_file::parse(text, "r.tfstate").unwrap();
    let (inventory, _) = super::inventory(&state, "r.tfstate").unwrap();
    assert_eq!(found(&inventory, "log_group.replica").region.as_deref(), Some("us-west-2"));
    assert_eq!(found(&inventory, "ecr_repository.api").region.as_deref(), Some("eu-central-1"));
}

#[test]
fn the_network_is_kept_with_terraform_and_left_out_of_what_it_forgets() {
    let (inventory, _) = map(MODULES);
    for part in [
        "module.network.aws_vpc.this",
        "module.network.aws_subnet.public[0]",
        "module.network.aws_subnet.public[1]",
        "module.network.aws_internet_gateway.this",
    ] {
        let kept = inventory.unmapped.iter().find(|u| u.origin == part).unwrap_or_else(|| panic!("{part} is listed"));
        assert!(kept.reason.contains("stays where it is, with Terraform"), "{kept:?}");
        assert!(kept.reason.contains("`[network] vpc`"), "{kept:?}");
    }
    assert!(inventory.resources.iter().all(|found| !found.folded.iter().any(|f| f.contains("aws_vpc"))));
}

#[test]
fn listener_rules_that_forward_by_path_host_or_method_are_adopted_and_others_listed() {
    let text = r#"{"version": 4, "serial": 1, "resources": [
        {"mode": "managed", "type": "aws_lb_listener_rule", "name": "api", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"arn": "arn:rule/1", "id": "arn:rule/1", "listener_arn": "arn:listener", "priority": 10,
                "action": [{"type": "forward", "target_group_arn": "arn:tg", "forward": []}],
                "condition": [{"host_header": [{"values": ["api.example.com"]}], "path_pattern": [], "source_ip": []},
                              {"http_request_method": [{"values": ["GET"]}]}]}}]},
        {"mode": "managed", "type": "aws_alb_listener_rule", "name": "old", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"arn": "arn:rule/2", "id": "arn:rule/2", "listener_arn": "arn:listener", "priority": 20,
                "action": [{"type": "redirect", "redirect": [{"host": "example.com", "status_code": "HTTP_301"}]}],
                "condition": [{"path_pattern": [{"values": ["/old/*"]}]}]}}]},
        {"mode": "managed", "type": "aws_lb_listener_rule", "name": "office", "provider": "p", "instances": [{"schema_version": 0,
            "attributes": {"arn": "arn:rule/3", "id": "arn:rule/3", "listener_arn": "arn:listener", "priority": 30,
                "action": [{"type": "forward", "target_group_arn": "arn:tg"}],
                "condition": [{"source_ip": [{"values": ["10.0.0.0/8"]}], "path_pattern": []}]}}]}
    ]}"#;
    let state = state_file::parse(text, "r.tfstate").unwrap();
    let (inventory, _) = inventory(&state, "r.tfstate").unwrap();
    assert_eq!(addresses(&inventory), ["listener_rule.api"]);
    assert_eq!(found(&inventory, "listener_rule.api").id, "arn:rule/1");
    let reasons: Vec<String> = inventory.unmapped.iter().map(|u| format!("{}: {}", u.origin, u.reason)).collect();
    assert_eq!(
        reasons,
        [
            "aws_alb_listener_rule.old: its actions are not one forward; provision's `listener_rule` forwards to a target group",
            "aws_lb_listener_rule.office: a `source_ip` condition; provision's `listener_rule` matches paths, hosts and methods",
        ]
    );
}
