//! Terraform's split-out sub-resources: settings of one AWS object that the AWS provider manages
//! as resources of their own (a bucket's versioning, a security group's rules, a role's policy
//! attachments, a service's task definition). provision holds them as fields of the parent, which
//! the generator reads from AWS; here each is matched to its parent, and what provision does not
//! manage of it is said in a note instead of being lost silently.

use serde_json::Value as Json;

use super::state_file::Instance;

/// A sub-resource: the Terraform types its parent may have, and the values that name the parent.
#[derive(Debug)]
pub struct Part {
    pub parent_types: &'static [&'static str],
    pub keys: Vec<String>,
}

/// How one sub-resource folds into its parent.
#[derive(Debug, PartialEq)]
pub enum Fold {
    /// Its settings are the parent's fields.
    Field,
    /// Folded, with something the user should know about it.
    Note(String),
    /// Kept in AWS as it is but not managed by provision: listed as not mapped, with the reason.
    Unmanaged(String),
}

const BUCKET: &[&str] = &["aws_s3_bucket"];
const GROUP: &[&str] = &["aws_security_group"];
const ROLE: &[&str] = &["aws_iam_role"];

/// `None` when the type is not a known sub-resource.
pub fn part(instance: &Instance) -> Option<Part> {
    let by = |types: &'static [&'static str], attributes: &[&str]| {
        let keys = attributes.iter().filter_map(|a| instance.text(a)).map(str::to_string).collect();
        Some(Part { parent_types: types, keys })
    };
    match instance.type_name.as_str() {
        "aws_s3_bucket_versioning"
        | "aws_s3_bucket_public_access_block"
        | "aws_s3_bucket_policy"
        | "aws_s3_bucket_ownership_controls"
        | "aws_s3_bucket_server_side_encryption_configuration"
        | "aws_s3_bucket_acl"
        | "aws_s3_bucket_cors_configuration"
        | "aws_s3_bucket_website_configuration"
        | "aws_s3_bucket_lifecycle_configuration"
        | "aws_s3_bucket_logging"
        | "aws_s3_bucket_notification"
        | "aws_s3_bucket_replication_configuration" => by(BUCKET, &["bucket"]),
        "aws_cloudfront_origin_access_control" => by(&["aws_cloudfront_distribution"], &["id"]),
        "aws_security_group_rule" | "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
            by(GROUP, &["security_group_id"])
        }
        "aws_iam_role_policy_attachment" | "aws_iam_role_policy" | "aws_iam_role_policies_exclusive" => {
            by(ROLE, &["role", "role_name"])
        }
        "aws_ecs_task_definition" => {
            Some(Part { parent_types: &["aws_ecs_service"], keys: super::mapping::task_definition_names(instance) })
        }
        "aws_ecr_lifecycle_policy" | "aws_ecr_repository_policy" => by(&["aws_ecr_repository"], &["repository"]),
        "aws_elasticache_subnet_group" => by(&["aws_elasticache_replication_group"], &["name"]),
        "aws_acm_certificate_validation" => by(&["aws_acm_certificate"], &["certificate_arn"]),
        "aws_secretsmanager_secret_version" => by(&["aws_secretsmanager_secret"], &["secret_id"]),
        "aws_ecs_cluster_capacity_providers" => by(&["aws_ecs_cluster"], &["cluster_name"]),
        _ => None,
    }
}

/// What folding `instance` into its parent means.
pub fn fold(instance: &Instance) -> Fold {
    let unmanaged = |what: &str| {
        Fold::Unmanaged(format!("provision's `s3_bucket` has no {what} field: it stays in AWS as it is, unmanaged"))
    };
    match instance.type_name.as_str() {
        "aws_s3_bucket_versioning" => Fold::Field,
        "aws_s3_bucket_public_access_block" => {
            let all = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
                .iter()
                .all(|setting| instance.boolean(setting) == Some(true));
            if all {
                Fold::Field
            } else {
                Fold::Note("not all four public access blocks are on; provision's buckets are private, so the first plan turns them on".into())
            }
        }
        "aws_s3_bucket_policy" => {
            let policy: Json = serde_json::from_str(instance.text("policy").unwrap_or("{}")).unwrap_or(Json::Null);
            let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
            let cloudfront_only = !statements.is_empty()
                && statements.iter().all(|s| s["Principal"]["Service"] == "cloudfront.amazonaws.com");
            if cloudfront_only {
                Fold::Note("the policy's CloudFront statements stay; a distribution adopted with the bucket adds its own `provision-…` statement on the first apply".into())
            } else {
                Fold::Note("the bucket policy stays as it is: provision edits only the statement a distribution of the stack needs".into())
            }
        }
        "aws_s3_bucket_ownership_controls" => {
            let ownership = instance.block("rule").and_then(|rule| rule.get("object_ownership")).and_then(Json::as_str);
            if ownership == Some("BucketOwnerEnforced") {
                Fold::Field
            } else {
                unmanaged("object ownership")
            }
        }
        "aws_s3_bucket_server_side_encryption_configuration" => {
            let algorithm = instance
                .block("rule")
                .and_then(|rule| rule.get("apply_server_side_encryption_by_default"))
                .and_then(|by_default| by_default.get(0).or(Some(by_default)))
                .and_then(|by_default| by_default.get("sse_algorithm"))
                .and_then(Json::as_str);
            if algorithm == Some("AES256") {
                Fold::Field
            } else {
                unmanaged("encryption key")
            }
        }
        "aws_s3_bucket_acl" if instance.text("acl").is_none_or(|acl| acl == "private") => Fold::Field,
        "aws_s3_bucket_acl" => unmanaged("ACL"),
        "aws_s3_bucket_cors_configuration" => unmanaged("CORS"),
        "aws_s3_bucket_website_configuration" => unmanaged("website"),
        "aws_s3_bucket_lifecycle_configuration" => unmanaged("lifecycle"),
        "aws_s3_bucket_logging" => unmanaged("access logging"),
        "aws_s3_bucket_notification" => unmanaged("notification"),
        "aws_s3_bucket_replication_configuration" => unmanaged("replication"),
        "aws_cloudfront_origin_access_control" => Fold::Note(
            "the distribution keeps this origin access control; a replacement of the distribution would make its own".into(),
        ),
        "aws_security_group_rule" if instance.text("type") == Some("egress") => egress(instance, "cidr_blocks"),
        "aws_vpc_security_group_egress_rule" => egress(instance, "cidr_ipv4"),
        "aws_security_group_rule" | "aws_vpc_security_group_ingress_rule" => {
            if instance.text("prefix_list_id").is_some() || !instance.texts("prefix_list_ids").is_empty() {
                Fold::Note("a rule from a prefix list: provision's `ingress` holds address ranges and groups only; check what the first plan says about it".into())
            } else {
                Fold::Field
            }
        }
        "aws_iam_role_policy_attachment" | "aws_iam_role_policies_exclusive" => Fold::Field,
        "aws_iam_role_policy" => Fold::Note(format!(
            "the inline policy `{}` stays on the role as it is: provision manages only its own inline policy (`inline_policy`, kept under the name `provision`)",
            instance.text("name").unwrap_or("?")
        )),
        "aws_ecs_task_definition" => Fold::Note(
            "the container, CPU, memory and roles are the service's fields; a change registers a revision in the family named after the service".into(),
        ),
        "aws_ecr_lifecycle_policy" => Fold::Note(
            "a policy of one rule keeping the newest N images reads as `keep_images = N`; any other stays as it is until `keep_images` is set".into(),
        ),
        "aws_ecr_repository_policy" => {
            Fold::Unmanaged("provision's `ecr_repository` has no policy field: it stays in AWS as it is, unmanaged".into())
        }
        "aws_elasticache_subnet_group" => Fold::Note(
            "the cache keeps this subnet group; provision reads its subnets as the cache's `subnets`, and a destroy leaves the group".into(),
        ),
        "aws_acm_certificate_validation" => Fold::Field,
        "aws_secretsmanager_secret_version" => Fold::Note(
            "the value stays in Secrets Manager as it is; provision never reads or copies it (`generate` keeps an existing value)".into(),
        ),
        "aws_ecs_cluster_capacity_providers" => {
            Fold::Unmanaged("provision's `ecs_cluster` has no capacity provider field: they stay as they are, unmanaged".into())
        }
        _ => Fold::Field,
    }
}

/// provision leaves egress as EC2 makes it (all allowed): a rule that allows all is folded, any
/// other stays as it is.
fn egress(instance: &Instance, cidr: &str) -> Fold {
    let all_protocols = matches!(instance.text("protocol").or(instance.text("ip_protocol")), Some("-1" | "all"));
    let anywhere = instance.text(cidr) == Some("0.0.0.0/0")
        || instance.texts(cidr).iter().any(|block| block == "0.0.0.0/0")
        || instance.text("cidr_ipv6") == Some("::/0")
        || instance.texts("ipv6_cidr_blocks").iter().any(|block| block == "::/0");
    if all_protocols && anywhere {
        Fold::Field
    } else {
        Fold::Unmanaged(
            "a restricted egress rule: provision manages ingress only, so it stays in AWS as it is, unmanaged".into(),
        )
    }
}
