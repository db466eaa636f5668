//! What the Elastic Load Balancing drivers (`load_balancer`, `target_group`, `listener`,
//! `listener_rule`) share.
//!
//! They speak one API with one set of habits: ARNs as identifiers, a `DescribeTags` that takes up to
//! 20 ARNs of any ELB resource, "not found" errors that fail a whole batch when one ARN is missing,
//! and the same naming rules for load balancers and target groups. Keeping those habits here means
//! the three drivers batch, tag and wait the same way.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::{Action, Tag};
use aws_sdk_elasticloadbalancingv2::Client;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

pub(crate) use crate::drivers::tags::user_tags;
use crate::drivers::{DriverError, FieldChange, Problem};
use provision_core::value::{JsonMap, Value};

/// The most ARNs `DescribeLoadBalancers`, `DescribeTags` and `RemoveTags` take in one call.
pub(crate) const ARNS_PER_CALL: usize = 20;
/// The error codes that mean "this ARN does not exist" for the ELB resources provision manages.
const NOT_FOUND: &[&str] = &["LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound", "RuleNotFound"];

pub(crate) fn is_not_found(error: &DriverError) -> bool {
    NOT_FOUND.iter().any(|code| error.code_is(code))
}

/// The naming rules ELB applies to load balancer and target group names, so that `validate`
/// rejects a name before AWS does (the emulator accepts any name).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() || name.len() > 32 {
        Some("must be 1 to 32 characters long")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may contain only letters, digits and hyphens")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("must not begin or end with a hyphen")
    } else if name.starts_with("internal-") {
        Some("must not begin with `internal-` (ELB reserves it for internal load balancers' DNS names)")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("name `{name}` {problem} (Elastic Load Balancing naming rules)")),
        None => Ok(()),
    }
}

/// An integer input checked against AWS's range; `None` when the value is fine or not known yet.
pub(crate) fn out_of_range(
    values: &BTreeMap<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Option<String> {
    match values.get(field) {
        Some(Value::Int(number)) if !range.contains(number) => {
            Some(format!("must be between {} and {}, got {number}", range.start(), range.end()))
        }
        _ => None,
    }
}

/// A literal where an ARN belongs must look like one; references are checked once resolved.
pub(crate) fn check_arn(values: &BTreeMap<String, Value>, field: &str, example: &str, problems: &mut Vec<Problem>) {
    if let Some(Value::Str(text)) = values.get(field) {
        if !text.is_empty() && !text.starts_with("arn:") {
            problems.push(
                Problem::error(field, format!("must be an ARN, got `{text}`")).hint(format!("for example `{example}`")),
            );
        }
    }
}

/// Deserializes a resource's resolved inputs into the driver's typed config.
pub(crate) fn config_from<T: DeserializeOwned>(type_name: &str, inputs: &JsonMap) -> Result<T, DriverError> {
    serde_json::from_value(Json::Object(inputs.clone()))
        .map_err(|error| DriverError::invalid(format!("invalid `{type_name}` inputs: {error}")))
}

/// Sorts a list input in place, so the desired side compares equal to what AWS reports in any order.
pub(crate) fn sort_list(inputs: &mut JsonMap, field: &str) {
    if let Some(Json::Array(items)) = inputs.get_mut(field) {
        items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
}

/// The top-level fields that changed: `health_check.path` and `tags.team` count as
/// `health_check` and `tags`.
pub(crate) fn changed_fields(changes: &[FieldChange]) -> BTreeSet<&str> {
    changes.iter().map(|change| change.path.split(['.', '[']).next().unwrap_or(&change.path)).collect()
}

/// The target groups a forward action sends to: its forward config's (weighted) groups, or the
/// single `TargetGroupArn` of the older form.
pub(crate) fn forwarded_to(action: &Action) -> Vec<&str> {
    let mut groups: Vec<&str> = action
        .forward_config()
        .map(|forward| forward.target_groups().iter().filter_map(|group| group.target_group_arn()).collect())
        .unwrap_or_default();
    if groups.is_empty() {
        groups.extend(action.target_group_arn());
    }
    groups
}

pub(crate) fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// For `provision import`: an ARN is taken as it is when it names this kind of resource (`marker`,
/// e.g. `:targetgroup/`) and refused otherwise; `None` when `id` is not an ARN (a name to look up).
pub(crate) fn imported_arn(id: &str, marker: &str, what: &str) -> Option<Result<String, DriverError>> {
    if !id.starts_with("arn:") {
        return None;
    }
    Some(if id.contains(marker) {
        Ok(id.to_string())
    } else {
        Err(DriverError::invalid(format!("`{id}` is not a {what} ARN")).with_hint("import it by its ARN or its name"))
    })
}

/// Whether a resource's tags say that this state's `address` made it (`tags::made_by`).
pub(crate) fn made_by(
    tags: &BTreeMap<String, String>,
    stack: &provision_core::driver::StackInfo,
    address: &provision_core::address::Address,
) -> bool {
    crate::drivers::tags::made_by(tags, stack, address)
}

/// The tags of many ELB resources, by ARN, in one `DescribeTags` per 20. A resource that no longer
/// exists is left out (AWS fails the whole batch for it; the batch is then asked ARN by ARN).
pub(crate) async fn tags_of(
    elb: &Client,
    arns: &[&str],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, DriverError> {
    let answers =
        crate::concurrency::in_batches(
            arns,
            ARNS_PER_CALL,
            |chunk| async move { (chunk, describe_tags(elb, chunk).await) },
        )
        .await;
    let mut tags = BTreeMap::new();
    for (chunk, answer) in answers {
        match answer {
            Ok(found) => tags.extend(found),
            Err(error) if is_not_found(&error) && chunk.len() > 1 => {
                for arn in chunk {
                    match describe_tags(elb, &[arn]).await {
                        Ok(found) => tags.extend(found),
                        Err(error) if is_not_found(&error) => {}
                        Err(error) => return Err(error),
                    }
                }
            }
            Err(error) if is_not_found(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(tags)
}

async fn describe_tags(elb: &Client, arns: &[&str]) -> Result<BTreeMap<String, BTreeMap<String, String>>, DriverError> {
    let output = elb
        .describe_tags()
        .set_resource_arns(Some(arns.iter().map(|arn| arn.to_string()).collect()))
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeTags", error))?;
    Ok(output
        .tag_descriptions()
        .iter()
        .filter_map(|description| {
            let tags = description
                .tags()
                .iter()
                .map(|tag| (tag.key().unwrap_or_default().to_string(), tag.value().unwrap_or_default().to_string()))
                .collect();
            Some((description.resource_arn()?.to_string(), tags))
        })
        .collect())
}

/// Brings a resource's tags from `prior_inputs["tags"]` to `tags` (the full set to write): one
/// `AddTags` for all current values, one `RemoveTags` for the user tags that were dropped.
pub(crate) async fn retag(
    elb: &Client,
    arn: &str,
    prior_inputs: &JsonMap,
    tags: &BTreeMap<String, String>,
) -> Result<(), DriverError> {
    let dropped: Vec<String> = prior_inputs
        .get("tags")
        .and_then(Json::as_object)
        .map(|prior| prior.keys().filter(|key| !tags.contains_key(*key)).cloned().collect())
        .unwrap_or_default();
    if !dropped.is_empty() {
        elb.remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(dropped))
            .send()
            .await
            .map_err(|error| crate::aws_error("RemoveTags", error))?;
    }
    elb.add_tags()
        .resource_arns(arn)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("AddTags", error))?;
    Ok(())
}

/// For a delete: the resource was already gone (deleted by hand, or with its load balancer or
/// listener), which counts as deleted.
pub(crate) fn gone_is_deleted(error: DriverError) -> Result<(), DriverError> {
    if is_not_found(&error) {
        Ok(())
    } else {
        Err(error)
    }
}

/// A refresh's reads of a type: each ARN described (`per_call` at a time, see [`describe_many`]) and
/// the tags of those found, then turned into what the driver observed; `None` for those gone.
pub(crate) async fn read_tagged<T: Clone>(
    elb: &Client,
    arns: &[&str],
    per_call: usize,
    describe: Describe<'_, T>,
    arn_of: fn(&T) -> &str,
    observe: fn(&T, &BTreeMap<String, String>) -> crate::drivers::Observed,
) -> Vec<Result<Option<crate::drivers::Observed>, DriverError>> {
    if arns.is_empty() {
        return Vec::new();
    }
    let described = describe_many(arns, per_call, describe).await;
    let found: Vec<&str> = described.iter().filter_map(|item| item.as_ref().ok()?.as_ref().map(arn_of)).collect();
    let tags = tags_of(elb, &found).await;
    described
        .iter()
        .map(|described| {
            let Some(item) = described.clone()? else { return Ok(None) };
            let tags = tags.as_ref().map_err(Clone::clone)?.get(arn_of(&item)).cloned().unwrap_or_default();
            Ok(Some(observe(&item, &tags)))
        })
        .collect()
}

/// The attributes of a resource whose only one is its ARN.
pub(crate) fn arn_attributes(arn: &str) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("arn".into(), arn.into());
    attributes
}

/// One describe call for a batch of ARNs, answering `(arn, item)` for those it found.
pub(crate) type Describe<'a, T> =
    Box<dyn Fn(Vec<String>) -> BoxFuture<'a, Result<Vec<(String, T)>, DriverError>> + Send + Sync + 'a>;

/// Describes many resources by ARN, `per_call` at a time: one entry per ARN, in order, `None` for
/// those that do not exist. AWS fails a whole batch when one ARN is missing (`*NotFound`); that
/// batch is then asked ARN by ARN to tell which. An ARN simply absent from an answer also counts as
/// gone (the emulator answers that way instead of failing).
pub(crate) async fn describe_many<T: Clone>(
    arns: &[&str],
    per_call: usize,
    describe: Describe<'_, T>,
) -> Vec<Result<Option<T>, DriverError>> {
    let each = &describe;
    let answers = crate::concurrency::in_batches(arns, per_call, |chunk| async move {
        (chunk, each(chunk.iter().map(|arn| arn.to_string()).collect()).await)
    })
    .await;
    let mut results = Vec::with_capacity(arns.len());
    for (chunk, answer) in answers {
        match answer {
            Ok(found) => {
                let found: BTreeMap<String, T> = found.into_iter().collect();
                results.extend(chunk.iter().map(|arn| Ok(found.get(*arn).cloned())));
            }
            Err(error) if is_not_found(&error) && chunk.len() > 1 => {
                for arn in chunk {
                    results.push(match describe(vec![arn.to_string()]).await {
                        Ok(found) => Ok(found.into_iter().find(|(id, _)| id == arn).map(|(_, item)| item)),
                        Err(error) if is_not_found(&error) => Ok(None),
                        Err(error) => Err(error),
                    });
                }
            }
            Err(error) if is_not_found(&error) => results.push(Ok(None)),
            Err(error) => results.extend(chunk.iter().map(|_| Err(error.clone()))),
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::address::Address;

    #[test]
    fn names_follow_the_elb_rules() {
        assert!(check_name("shop-dev-web").is_ok());
        assert!(check_name("Web01").is_ok());
        assert!(check_name("").unwrap_err().contains("1 to 32"));
        assert!(check_name(&"a".repeat(33)).unwrap_err().contains("1 to 32"));
        assert!(check_name("shop_web").unwrap_err().contains("letters, digits and hyphens"));
        assert!(check_name("-web").unwrap_err().contains("hyphen"));
        assert!(check_name("web-").unwrap_err().contains("hyphen"));
        assert!(check_name("internal-web").unwrap_err().contains("internal-"));
    }

    #[test]
    fn changes_count_by_top_level_field() {
        let change = |path: &str| FieldChange { path: path.into(), before: None, after: None };
        let changes = [change("health_check.path"), change("tags.team"), change("port")];
        let fields = changed_fields(&changes);
        assert_eq!(fields.into_iter().collect::<Vec<_>>(), vec!["health_check", "port", "tags"]);
    }

    #[test]
    fn user_tags_leave_out_provision_tags() {
        let tags: BTreeMap<String, String> = [("provision:stack", "shop"), ("team", "web")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(user_tags(&tags), serde_json::json!({ "team": "web" }));
    }

    #[test]
    fn ownership_needs_stack_address_and_lineage() {
        let address = Address::new("load_balancer", "web");
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let mut shop = provision_core::driver::StackInfo {
            name: "shop".into(),
            region: "us-east-1".into(),
            directory: ".".into(),
            lineage: None,
        };
        let ours = tags(&[
            ("provision:stack", "shop"),
            ("provision:address", "load_balancer.web"),
            ("provision:lineage", "L"),
        ]);
        assert!(made_by(&ours, &shop, &address));
        assert!(!made_by(
            &tags(&[("provision:stack", "shop"), ("provision:address", "load_balancer.api")]),
            &shop,
            &address
        ));
        assert!(!made_by(
            &tags(&[("provision:stack", "other"), ("provision:address", "load_balancer.web")]),
            &shop,
            &address
        ));
        assert!(!made_by(&tags(&[]), &shop, &address));
        shop.lineage = Some("M".into());
        assert!(!made_by(&ours, &shop, &address), "another state of a stack of the same name");
    }

    #[test]
    fn list_inputs_are_sorted() {
        let mut inputs =
            serde_json::json!({ "subnets": ["subnet-b", "subnet-a"] }).as_object().cloned().expect("object");
        sort_list(&mut inputs, "subnets");
        sort_list(&mut inputs, "missing");
        assert_eq!(inputs["subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
    }

    #[test]
    fn ranges_report_only_known_integers() {
        let values: BTreeMap<String, Value> =
            [("a".to_string(), Value::Int(0)), ("b".to_string(), Value::Int(5)), ("c".to_string(), Value::Unknown)]
                .into_iter()
                .collect();
        assert_eq!(out_of_range(&values, "a", 1..=10).as_deref(), Some("must be between 1 and 10, got 0"));
        assert_eq!(out_of_range(&values, "b", 1..=10), None);
        assert_eq!(out_of_range(&values, "c", 1..=10), None);
        assert_eq!(out_of_range(&values, "d", 1..=10), None);
    }

    #[tokio::test]
    async fn a_batch_with_a_missing_arn_is_asked_arn_by_arn() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = calls.clone();
        let describe: Describe<'_, u32> = Box::new(move |arns: Vec<String>| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::pin(async move {
                if arns.iter().any(|arn| arn == "gone") {
                    return Err(DriverError {
                        code: Some("LoadBalancerNotFound".into()),
                        ..DriverError::invalid("gone")
                    });
                }
                Ok(arns.iter().filter(|arn| *arn != "absent").map(|arn| (arn.clone(), arn.len() as u32)).collect())
            })
        });
        let results = describe_many(&["a", "gone", "bb", "absent"], 20, describe).await;
        let values: Vec<Option<u32>> = results.into_iter().map(|r| r.expect("no error")).collect();
        assert_eq!(values, vec![Some(1), None, Some(2), None]);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 5);
    }

    #[tokio::test]
    async fn other_errors_fail_the_whole_batch() {
        let describe: Describe<'_, u32> = Box::new(|_| {
            Box::pin(async {
                Err(DriverError { code: Some("Throttling".into()), ..DriverError::invalid("slow down") })
            })
        });
        let results = describe_many(&["a", "b"], 1, describe).await;
        assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| e.code_is("Throttling"))));
    }
}
