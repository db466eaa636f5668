//! Whether the execution role may read the container's secrets, checked offline.
//!
//! ECS fetches `container.secrets` with the task's execution role when a task starts; a role that
//! may not read one fails every task start with an error deep in the service's events, long after
//! `apply` said it was done. When the role is an `iam_role` of the same stack, its policies are right
//! there in the stack file: a warning (not an error: a policy the check cannot see, a customer
//! managed one, may allow it) names the secret and the statement to add.

use std::collections::BTreeMap;

use provision_core::address::Address;
use provision_core::stack::{Expr, Part, Reference, ResourceSpec, SpannedExpr};

use crate::drivers::Problem;

/// AWS managed policies that allow `secretsmanager:GetSecretValue`.
const READING_MANAGED_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/SecretsManagerReadWrite"];
const AWS_MANAGED_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// A Secrets Manager secret a container entry refers to.
enum SecretSource<'a> {
    /// `${TYPE.NAME.ATTRIBUTE}` of a resource that is a secret (a `secret`'s `arn`, a database's
    /// managed `master_secret_arn`).
    Reference(&'a Reference),
    /// A literal `arn:aws:secretsmanager:…`.
    Arn(&'a str),
}

pub(super) fn check(resource: &ResourceSpec, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Problem> {
    let Some(role_address) = resource.fields.get("execution_role").and_then(role_reference) else { return Vec::new() };
    let Some(role) = resources.get(role_address) else { return Vec::new() };
    let Some(secrets) = resource.fields.get("container").and_then(|c| table_entry(c, "secrets")) else {
        return Vec::new();
    };
    let Expr::Table(entries) = &secrets.expr else { return Vec::new() };
    let policy = role.fields.get("inline_policy");
    let managed = role.fields.get("managed_policies");
    if allows_reading(policy, managed) {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for (name, value) in entries {
        let Some(source) = secret_source(value) else { continue };
        if policy.is_some_and(|policy| names(policy, &source)) {
            continue;
        }
        let (what, resource_arn) = match &source {
            SecretSource::Reference(reference) => (format!("`${{{reference}}}`"), format!("${{{reference}}}")),
            SecretSource::Arn(arn) => (format!("`{arn}`"), arn.to_string()),
        };
        problems.push(
            Problem::warning(
                &format!("container.secrets.{name}"),
                format!(
                    "the execution role `{role_address}` may not read this secret: neither its `inline_policy` nor \
                     its `managed_policies` name {what} or allow `secretsmanager:GetSecretValue`, so ECS cannot \
                     start the tasks"
                ),
            )
            .hint(format!(
                "allow it in `[{role_address}]`: inline_policy = '{{ \"Version\": \"2012-10-17\", \"Statement\": \
                 [{{ \"Effect\": \"Allow\", \"Action\": \"secretsmanager:GetSecretValue\", \"Resource\": \
                 \"{resource_arn}\" }}] }}'"
            )),
        );
    }
    problems
}

/// `${iam_role.NAME.arn}` as the whole value: the role of this stack the service runs with.
fn role_reference(expr: &SpannedExpr) -> Option<&Address> {
    match &expr.expr {
        Expr::Template(parts) => match parts.as_slice() {
            [Part::Reference(Reference::Resource { address, attribute }, _)]
                if address.type_name == "iam_role" && attribute == "arn" =>
            {
                Some(address)
            }
            _ => None,
        },
        _ => None,
    }
}

fn table_entry<'a>(expr: &'a SpannedExpr, key: &str) -> Option<&'a SpannedExpr> {
    match &expr.expr {
        Expr::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

fn secret_source(value: &SpannedExpr) -> Option<SecretSource<'_>> {
    let Expr::Template(parts) = &value.expr else { return None };
    for part in parts {
        match part {
            Part::Reference(reference @ Reference::Resource { address, attribute }, _) => {
                let is_secret = (address.type_name == "secret" && attribute == "arn")
                    || (address.type_name == "db_instance" && attribute == "master_secret_arn");
                if is_secret {
                    return Some(SecretSource::Reference(reference));
                }
            }
            Part::Literal(text) if text.starts_with("arn:") && text.contains(":secretsmanager:") => {
                return Some(SecretSource::Arn(text));
            }
            _ => {}
        }
    }
    None
}

/// The literal text of a string (references left out), or the items of a list of them.
fn literals(expr: &SpannedExpr) -> Vec<String> {
    match &expr.expr {
        Expr::Template(parts) => vec![parts
            .iter()
            .filter_map(|part| match part {
                Part::Literal(text) => Some(text.as_str()),
                Part::Reference(..) => None,
            })
            .collect()],
        Expr::List(items) => items.iter().flat_map(literals).collect(),
        _ => Vec::new(),
    }
}

/// An inline policy that allows reading any secret, or a managed policy that does (or may: one
/// the check cannot see).
fn allows_reading(policy: Option<&SpannedExpr>, managed: Option<&SpannedExpr>) -> bool {
    let policy_allows = policy.is_some_and(|policy| {
        literals(policy).iter().any(|text| {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
            compact.contains("secretsmanager:getsecretvalue")
                || compact.contains("\"secretsmanager:*\"")
                || compact.contains("\"action\":\"*\"")
                || compact.contains("\"action\":[\"*\"]")
        })
    });
    let managed_allows = managed.is_some_and(|managed| match &managed.expr {
        Expr::List(items) => items.iter().any(|item| match &item.expr {
            Expr::Template(parts) => match parts.as_slice() {
                [Part::Literal(arn)] => {
                    READING_MANAGED_POLICIES.contains(&arn.as_str()) || !arn.starts_with(AWS_MANAGED_PREFIX)
                }
                // A policy given by reference could allow anything.
                _ => true,
            },
            _ => false,
        }),
        // The whole list from a reference or variable: cannot tell.
        _ => true,
    });
    policy_allows || managed_allows
}

/// Whether the policy names the secret: the same reference, or the literal ARN.
fn names(policy: &SpannedExpr, source: &SecretSource<'_>) -> bool {
    match source {
        SecretSource::Reference(wanted) => policy.references().iter().any(|(reference, _)| reference == wanted),
        SecretSource::Arn(arn) => literals(policy).iter().any(|text| text.contains(arn)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> SpannedExpr {
        SpannedExpr {
            expr: Expr::Template(provision_core::stack::expression::parse_template(text, 0).unwrap()),
            span: 0..0,
        }
    }

    fn list(items: &[&str]) -> SpannedExpr {
        SpannedExpr { expr: Expr::List(items.iter().map(|item| template(item)).collect()), span: 0..0 }
    }

    fn resource(address: Address, fields: Vec<(&str, SpannedExpr)>) -> ResourceSpec {
        ResourceSpec {
            protect: false,
            address,
            span: 0..0,
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            tags: BTreeMap::new(),
            depends_on: Vec::new(),
        }
    }

    fn stack(role_fields: Vec<(&str, SpannedExpr)>) -> (ResourceSpec, BTreeMap<Address, ResourceSpec>) {
        let secrets = SpannedExpr {
            expr: Expr::Table(vec![("SESSION".to_string(), template("${secret.session.arn}"))]),
            span: 0..0,
        };
        let container = SpannedExpr { expr: Expr::Table(vec![("secrets".to_string(), secrets)]), span: 0..0 };
        let service = resource(
            Address::new("ecs_service", "api"),
            vec![("execution_role", template("${iam_role.exec.arn}")), ("container", container)],
        );
        let role = resource(Address::new("iam_role", "exec"), role_fields);
        let resources = BTreeMap::from([(role.address.clone(), role)]);
        (service, resources)
    }

    const EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

    #[test]
    fn a_role_without_access_to_the_secret_is_warned_about() {
        let (service, resources) = stack(vec![("managed_policies", list(&[EXECUTION_POLICY]))]);
        let problems = check(&service, &resources);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].warning);
        assert_eq!(problems[0].field, "container.secrets.SESSION");
        assert!(problems[0].message.contains("`iam_role.exec`"), "{}", problems[0].message);
        assert!(problems[0].hint.as_deref().unwrap_or_default().contains("\"Resource\": \"${secret.session.arn}\""));
    }

    #[test]
    fn a_policy_naming_the_secret_or_allowing_reads_is_enough() {
        let naming = template(
            r#"{"Statement": [{"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": "${secret.session.arn}"}]}"#,
        );
        let (service, resources) = stack(vec![("inline_policy", naming)]);
        assert!(check(&service, &resources).is_empty());
        let reading = template(
            r#"{"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}"#,
        );
        let (service, resources) = stack(vec![("inline_policy", reading)]);
        assert!(check(&service, &resources).is_empty());
        let (service, resources) =
            stack(vec![("managed_policies", list(&["arn:aws:iam::aws:policy/SecretsManagerReadWrite"]))]);
        assert!(check(&service, &resources).is_empty());
        let (service, resources) = stack(vec![("managed_policies", list(&["arn:aws:iam::123456789012:policy/app"]))]);
        assert!(check(&service, &resources).is_empty(), "a customer managed policy may allow it");
    }

    #[test]
    fn a_role_from_outside_the_stack_is_not_checked() {
        let (mut service, resources) = stack(vec![]);
        service.fields.insert("execution_role".into(), template("arn:aws:iam::1:role/exec"));
        assert!(check(&service, &resources).is_empty());
    }
}
