//! Finding a stack's log groups: `DescribeLogGroups` by name prefix, one listing per prefix the
//! groups share, split so that each is about a page, all at once.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_cloudwatchlogs::Client;

use crate::drivers::DriverError;

/// The groups with these names, by name: one `DescribeLogGroups` listing per distinct first path
/// segment (`/provision/shop/…` shares one), split further where one would take more than a page
/// ([`listing_prefixes`]), all listings at once, each paginated.
pub(super) async fn describe_many(logs: &Client, names: &[&str]) -> Result<BTreeMap<String, LogGroup>, DriverError> {
    let wanted: BTreeSet<&str> = names.iter().copied().collect();
    let prefixes = listing_prefixes(&wanted);
    let listings = crate::concurrency::in_batches(&prefixes, 1, |prefix| list_prefix(logs, &prefix[0], &wanted)).await;
    let mut groups = BTreeMap::new();
    for listing in listings {
        groups.extend(listing?);
    }
    Ok(groups)
}

/// The wanted groups whose names start with `prefix`, every page of them.
async fn list_prefix(
    logs: &Client,
    prefix: &str,
    wanted: &BTreeSet<&str>,
) -> Result<Vec<(String, LogGroup)>, DriverError> {
    let mut groups = Vec::new();
    // Paged by hand (`paging`): a create reads its group back through here, so an apply had
    // hundreds of the SDK's paginators at once.
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| crate::aws_error("DescribeLogGroups", error))?;
        for group in page.log_groups() {
            if let Some(name) = group.log_group_name().filter(|name| wanted.contains(name)) {
                groups.push((name.to_string(), group.clone()));
            }
        }
        token = crate::drivers::paging::next_token(page.next_token(), token.as_deref());
        if token.is_none() {
            return Ok(groups);
        }
    }
}

/// Groups a page of `DescribeLogGroups` holds at most.
const PAGE: usize = 50;

/// The prefixes to list `wanted` by: each name's [`common_prefix`] with the others, and where that
/// covers more than a page of wanted names, split by the character after it (and again, as long as
/// it helps), so that the listings are about a page each and go at once instead of one page after
/// another (125 groups under `/provision/shop/` were three pages in a row). A prefix that is itself
/// a wanted name is not split, since no longer prefix would list that group.
fn listing_prefixes(wanted: &BTreeSet<&str>) -> Vec<String> {
    let mut by_prefix: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in wanted {
        by_prefix.entry(common_prefix(name, wanted)).or_default().push(name);
    }
    let mut prefixes = Vec::new();
    for (prefix, names) in by_prefix {
        split_prefix(prefix, names, &mut prefixes);
    }
    prefixes
}

fn split_prefix(prefix: String, names: Vec<&str>, out: &mut Vec<String>) {
    if names.len() <= PAGE || names.iter().any(|name| name.len() == prefix.len()) {
        out.push(prefix);
        return;
    }
    let mut by_next: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in names {
        let next = name[prefix.len()..].chars().next().map(|c| c.len_utf8()).unwrap_or(0);
        by_next.entry(name[..prefix.len() + next].to_string()).or_default().push(name);
    }
    for (longer, names) in by_next {
        split_prefix(longer, names, out);
    }
}

/// The longest prefix `name` shares with the other wanted names that start like it (so a stack's
/// groups under `/provision/shop/` are listed together), never shorter than its first segment.
fn common_prefix(name: &str, wanted: &BTreeSet<&str>) -> String {
    let first_segment = match name.strip_prefix('/') {
        Some(rest) => rest.find('/').map(|end| &name[..end + 2]).unwrap_or(name),
        None => name.find('/').map(|end| &name[..=end]).unwrap_or(name),
    };
    let mut prefix = name.to_string();
    for other in wanted.iter().filter(|other| other.starts_with(first_segment)) {
        let shared = prefix.chars().zip(other.chars()).take_while(|(a, b)| a == b).count();
        prefix.truncate(prefix.char_indices().nth(shared).map(|(index, _)| index).unwrap_or(prefix.len()));
    }
    prefix
}

pub(super) async fn describe_one(logs: &Client, name: &str) -> Result<Option<LogGroup>, DriverError> {
    Ok(describe_many(logs, &[name]).await?.remove(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
    use aws_smithy_mocks::mock;

    fn page(names: &[&str], token: Option<&str>) -> DescribeLogGroupsOutput {
        let groups = names.iter().map(|name| LogGroup::builder().log_group_name(*name).build()).collect();
        DescribeLogGroupsOutput::builder().set_log_groups(Some(groups)).set_next_token(token.map(String::from)).build()
    }

    /// The listing is paged by hand: every page is read until the token runs out, a token seen
    /// before ends it (as the SDK's paginator does), and only the wanted names are kept. Tested with
    /// the SDK's mocks because the emulator's pages never repeat a token.
    #[tokio::test]
    async fn the_listing_reads_every_page_and_stops_at_a_repeated_token() {
        let first = mock!(Client::describe_log_groups)
            .match_requests(|request| request.next_token().is_none())
            .then_output(|| page(&["/app/a", "/app/other"], Some("t1")));
        let second = mock!(Client::describe_log_groups)
            .match_requests(|request| request.next_token() == Some("t1"))
            .then_output(|| page(&["/app/b"], Some("t2")));
        let third = mock!(Client::describe_log_groups)
            .match_requests(|request| request.next_token() == Some("t2"))
            .then_output(|| page(&["/app/c"], Some("t2")));
        let rules = [&first, &second, &third];
        let logs = mock_client!(aws_sdk_cloudwatchlogs, rules.iter().copied());
        let groups = describe_many(&logs, &["/app/a", "/app/b", "/app/c"]).await.expect("listed");
        assert_eq!(groups.keys().map(String::as_str).collect::<Vec<_>>(), ["/app/a", "/app/b", "/app/c"]);
        assert_eq!((first.num_calls(), second.num_calls(), third.num_calls()), (1, 1, 1));
    }

    /// More groups than a page under one prefix are listed by longer prefixes, each covering at most
    /// a page of them, so the listings go at once; every group is under exactly one of them.
    #[test]
    fn many_groups_are_listed_a_page_per_prefix() {
        let names: Vec<String> = (0..125).map(|i| format!("/provision/shop/r{}", 8 * i + 3)).collect();
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let prefixes = listing_prefixes(&wanted);
        assert!(prefixes.len() > 1 && prefixes.len() <= 10, "{prefixes:?}");
        for prefix in &prefixes {
            let under = wanted.iter().filter(|name| name.starts_with(prefix.as_str())).count();
            assert!((1..=PAGE).contains(&under), "{prefix} covers {under}");
        }
        for name in &wanted {
            assert_eq!(prefixes.iter().filter(|prefix| name.starts_with(prefix.as_str())).count(), 1, "{name}");
        }
        // A page's worth or fewer: one listing; a prefix that is itself a group is not split.
        let few: BTreeSet<&str> = names[..PAGE].iter().map(String::as_str).collect();
        assert_eq!(listing_prefixes(&few), ["/provision/shop/r"]);
        let mut nested: BTreeSet<&str> = wanted.clone();
        nested.insert("/provision/shop/r");
        assert_eq!(listing_prefixes(&nested), ["/provision/shop/r"]);
    }

    #[test]
    fn a_stack_s_groups_are_listed_under_their_shared_prefix() {
        let wanted = BTreeSet::from(["/provision/shop/api", "/provision/shop/worker", "/ecs/other"]);
        assert_eq!(common_prefix("/provision/shop/api", &wanted), "/provision/shop/");
        assert_eq!(common_prefix("/ecs/other", &wanted), "/ecs/other");
        let plain = BTreeSet::from(["app-logs"]);
        assert_eq!(common_prefix("app-logs", &plain), "app-logs");
    }
}
