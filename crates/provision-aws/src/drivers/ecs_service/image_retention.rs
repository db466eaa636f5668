//! Whether a repository's lifecycle rule could expire the image a service runs, checked offline.
//!
//! A service deploys its image by the digest its tag pointed at when the plan was made
//! (`pin_digest`). `keep_images = N` expires every image beyond the newest N, tagged or not. When
//! the tag moves (`:latest`, `:main`, pushed by CI without an apply), the digest the service runs
//! gets older with every push, and after N pushes it is expired: the service runs on, but the next
//! task it starts (a scale-out, a replaced task, a restarted one) stops with
//! `CannotPullContainerError`. `validate` says so while the stack file can still change.

use std::collections::BTreeMap;

use provision_core::address::Address;
use provision_core::stack::{Expr, Part, Reference, ResourceSpec, SpannedExpr};

use crate::drivers::Problem;

fn table_entry<'a>(expr: Option<&'a SpannedExpr>, key: &str) -> Option<&'a SpannedExpr> {
    match &expr?.expr {
        Expr::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// A boolean field as written; `default` when absent, `None` when it is a reference.
fn flag(expr: Option<&SpannedExpr>, default: bool) -> Option<bool> {
    match expr.map(|e| &e.expr) {
        None => Some(default),
        Some(Expr::Bool(value)) => Some(*value),
        Some(_) => None,
    }
}

pub(super) fn check(resource: &ResourceSpec, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Problem> {
    let container = resource.fields.get("container");
    let Some(SpannedExpr { expr: Expr::Template(parts), .. }) = table_entry(container, "image") else {
        return Vec::new();
    };
    let repository = parts.iter().find_map(|part| match part {
        Part::Reference(Reference::Resource { address, attribute }, _)
            if address.type_name == "ecr_repository" && attribute == "url" =>
        {
            Some(address)
        }
        _ => None,
    });
    let Some(repository) = repository else { return Vec::new() };
    let Some(spec) = resources.get(repository) else { return Vec::new() };
    let Some(Expr::Int(keep)) = spec.fields.get("keep_images").map(|e| &e.expr) else { return Vec::new() };
    let pinned = flag(table_entry(container, "pin_digest"), true);
    let tags_move = flag(spec.fields.get("immutable_tags"), false).map(|immutable| !immutable);
    if pinned != Some(true) || tags_move != Some(true) {
        return Vec::new();
    }
    vec![Problem::warning(
        "container.image",
        format!(
            "`{repository}` keeps only the newest {keep} images and its tags move: after {keep} more pushes without \
             an apply, the digest this service runs expires, and ECS can no longer start its tasks (a scale-out or a \
             replaced task fails with `CannotPullContainerError`)"
        ),
    )
    .hint(format!(
        "apply after each push (the plan shows the new digest), set `immutable_tags = true` on `{repository}` and push \
         a new tag per release, or raise `keep_images`"
    ))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::stack::expression::parse_template;

    fn template(text: &str) -> SpannedExpr {
        SpannedExpr { expr: Expr::Template(parse_template(text, 0).unwrap()), span: 0..1 }
    }

    fn spec(address: &str, fields: Vec<(&str, Expr)>) -> ResourceSpec {
        ResourceSpec {
            address: address.parse().unwrap(),
            span: 0..1,
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), SpannedExpr { expr: v, span: 0..1 })).collect(),
            tags: BTreeMap::new(),
            depends_on: Vec::new(),
            protect: false,
        }
    }

    fn stack(repository: Vec<(&str, Expr)>, pin_digest: Option<bool>) -> Vec<Problem> {
        let repository = spec("ecr_repository.api", repository);
        let mut container = vec![("image".to_string(), template("${ecr_repository.api.url}:latest"))];
        if let Some(pin) = pin_digest {
            container.push(("pin_digest".to_string(), SpannedExpr { expr: Expr::Bool(pin), span: 0..1 }));
        }
        let service = spec("ecs_service.api", vec![("container", Expr::Table(container))]);
        let resources =
            BTreeMap::from([(repository.address.clone(), repository), (service.address.clone(), service.clone())]);
        check(&service, &resources)
    }

    #[test]
    fn a_pinned_digest_of_a_moving_tag_under_a_lifecycle_rule_is_warned_about() {
        let problems = stack(vec![("keep_images", Expr::Int(5))], None);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].warning);
        assert!(problems[0].message.contains("keeps only the newest 5 images and its tags move"), "{:?}", problems[0]);
    }

    #[test]
    fn immutable_tags_unpinned_images_and_no_rule_are_fine() {
        assert!(stack(vec![("keep_images", Expr::Int(5)), ("immutable_tags", Expr::Bool(true))], None).is_empty());
        assert!(
            stack(vec![("keep_images", Expr::Int(5))], Some(false)).is_empty(),
            "deployed by tag, it follows the tag"
        );
        assert!(stack(vec![], None).is_empty(), "no lifecycle rule");
    }
}
