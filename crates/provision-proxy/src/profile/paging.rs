//! Listings a page at a time: the listings provision uses come back with at most `page_size`
//! items and the protocol's own token. The proxy keeps the full answer and serves the next page
//! for the token it handed out, without asking the emulator again (AWS pages are cut from one
//! consistent listing too). An answer the emulator already paged is passed on as it is.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Value};

use super::call::Call;
use super::http::Response;
use super::xml::Element;
use super::{State, Turn};

const ID: &str = "any.paged-listings";
/// Listings kept for their next pages.
const KEPT: usize = 256;

/// Where a listing's items and tokens are, per protocol.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Query XML: `<{Op}Result><{list}><member>…` with `request` → `response` tokens and the
    /// caller's page-size parameter; IAM adds `<IsTruncated>`.
    Query {
        list: &'static str,
        request: &'static str,
        response: &'static str,
        max: &'static str,
        truncated: bool,
    },
    /// EC2: `<{list}><item>…</item></{list}><nextToken>`; paged only when `MaxResults` is sent
    /// (EC2 returns everything otherwise).
    Ec2 {
        list: &'static str,
    },
    /// JSON: `{list: [...], token: "..."}`.
    Json {
        list: &'static str,
        token: &'static str,
        max: &'static str,
    },
    S3ObjectsV2,
    S3Buckets,
    /// CloudFront's `<Items>` with `Marker`/`NextMarker`/`IsTruncated`/`Quantity`.
    CloudFront,
    /// Route 53 record sets, continued by `name`/`type`.
    Route53Records,
}

/// (service, operation, shape): the listings provision uses.
const LISTINGS: &[(&str, &str, Shape)] = &[
    ("iam", "ListRoles", iam("Roles")),
    ("iam", "ListAttachedRolePolicies", iam("AttachedPolicies")),
    ("iam", "ListRolePolicies", iam("PolicyNames")),
    ("iam", "ListInstanceProfilesForRole", iam("InstanceProfiles")),
    ("iam", "ListRoleTags", iam("Tags")),
    ("elasticloadbalancing", "DescribeTargetGroups", elb("TargetGroups")),
    ("elasticloadbalancing", "DescribeListeners", elb("Listeners")),
    ("elasticloadbalancing", "DescribeLoadBalancers", elb("LoadBalancers")),
    ("rds", "DescribeDBInstances", marker("DBInstances")),
    ("rds", "DescribeDBSubnetGroups", marker("DBSubnetGroups")),
    ("elasticache", "DescribeReplicationGroups", marker("ReplicationGroups")),
    ("elasticache", "DescribeCacheSubnetGroups", marker("CacheSubnetGroups")),
    ("elasticache", "DescribeCacheClusters", marker("CacheClusters")),
    ("ec2", "DescribeSecurityGroups", Shape::Ec2 { list: "securityGroupInfo" }),
    ("ec2", "DescribeSubnets", Shape::Ec2 { list: "subnetSet" }),
    ("ec2", "DescribeVpcs", Shape::Ec2 { list: "vpcSet" }),
    ("ec2", "DescribeNatGateways", Shape::Ec2 { list: "natGatewaySet" }),
    ("ec2", "DescribeVpcEndpoints", Shape::Ec2 { list: "vpcEndpointSet" }),
    ("ec2", "DescribeRouteTables", Shape::Ec2 { list: "routeTableSet" }),
    ("ec2", "DescribeInternetGateways", Shape::Ec2 { list: "internetGatewaySet" }),
    ("ecs", "ListTaskDefinitions", Shape::Json { list: "taskDefinitionArns", token: "nextToken", max: "maxResults" }),
    ("ecs", "ListServices", Shape::Json { list: "serviceArns", token: "nextToken", max: "maxResults" }),
    ("ecr", "DescribeRepositories", Shape::Json { list: "repositories", token: "nextToken", max: "maxResults" }),
    ("ecr", "DescribeImages", Shape::Json { list: "imageDetails", token: "nextToken", max: "maxResults" }),
    ("logs", "DescribeLogGroups", Shape::Json { list: "logGroups", token: "nextToken", max: "limit" }),
    ("logs", "DescribeLogStreams", Shape::Json { list: "logStreams", token: "nextToken", max: "limit" }),
    ("secretsmanager", "ListSecrets", Shape::Json { list: "SecretList", token: "NextToken", max: "MaxResults" }),
    ("acm", "ListCertificates", Shape::Json { list: "CertificateSummaryList", token: "NextToken", max: "MaxItems" }),
    (
        "tagging",
        "GetResources",
        Shape::Json { list: "ResourceTagMappingList", token: "PaginationToken", max: "ResourcesPerPage" },
    ),
    ("s3", "ListObjectsV2", Shape::S3ObjectsV2),
    ("s3", "ListBuckets", Shape::S3Buckets),
    ("cloudfront", "ListDistributions", Shape::CloudFront),
    ("cloudfront", "ListOriginAccessControls", Shape::CloudFront),
    ("route53", "ListResourceRecordSets", Shape::Route53Records),
];

const fn iam(list: &'static str) -> Shape {
    Shape::Query { list, request: "Marker", response: "Marker", max: "MaxItems", truncated: true }
}

const fn elb(list: &'static str) -> Shape {
    Shape::Query { list, request: "Marker", response: "NextMarker", max: "PageSize", truncated: false }
}

const fn marker(list: &'static str) -> Shape {
    Shape::Query { list, request: "Marker", response: "Marker", max: "MaxRecords", truncated: false }
}

fn shape_of(call: &Call) -> Option<Shape> {
    LISTINGS
        .iter()
        .find(|(service, operation, _)| *service == call.service && *operation == call.operation)
        .map(|(_, _, s)| *s)
}

/// The items of a listing and the answer they came in (with them taken out).
#[derive(Debug)]
enum Items {
    Xml(Element, Vec<Element>),
    Json(Value, Vec<Value>),
}

#[derive(Debug)]
struct Listing {
    shape: Shape,
    items: Items,
    response: Response,
    size: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Pages {
    listings: HashMap<u64, Listing>,
    order: VecDeque<u64>,
    next: u64,
    /// Route 53 continues by record name and type: (path, name, type) → token.
    continuations: HashMap<(String, String, String), String>,
}

fn token(listing: u64, offset: usize) -> String {
    format!("provision-proxy-page-{listing}-{offset}")
}

fn parse_token(token: &str) -> Option<(u64, usize)> {
    let (listing, offset) = token.strip_prefix("provision-proxy-page-")?.split_once('-')?;
    Some((listing.parse().ok()?, offset.parse().ok()?))
}

/// The token the caller sent, by the shape's request parameter.
fn sent_token(call: &Call, shape: Shape) -> Option<String> {
    match shape {
        Shape::Query { request, .. } => call.param(request).map(str::to_string),
        Shape::Ec2 { .. } => call.param("NextToken").map(str::to_string),
        Shape::Json { token, .. } => call.json_str(token).map(str::to_string),
        Shape::S3ObjectsV2 | Shape::S3Buckets => call.param("continuation-token").map(str::to_string),
        Shape::CloudFront => call.param("Marker").map(str::to_string),
        Shape::Route53Records => None,
    }
}

/// The caller's own page size, if it sent one.
fn asked_size(call: &Call, shape: Shape) -> Option<usize> {
    let text = match shape {
        Shape::Query { max, .. } => call.param(max).map(str::to_string),
        Shape::Ec2 { .. } => call.param("MaxResults").map(str::to_string),
        Shape::Json { max, .. } => call.json.get(max).map(|v| v.to_string()),
        Shape::S3ObjectsV2 => call.param("max-keys").map(str::to_string),
        Shape::S3Buckets => call.param("max-buckets").map(str::to_string),
        Shape::CloudFront | Shape::Route53Records => {
            call.param("MaxItems").or(call.param("maxitems")).map(str::to_string)
        }
    };
    text.and_then(|t| t.trim_matches('"').parse().ok())
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let shape = shape_of(call)?;
    let pages = &mut state.pages;
    let sent = match shape {
        Shape::Route53Records => {
            let key = (
                call.path.clone(),
                call.param("name")?.to_string(),
                call.param("type").unwrap_or_default().to_string(),
            );
            pages.continuations.get(&key)?.clone()
        }
        _ => sent_token(call, shape)?,
    };
    let (listing, offset) = parse_token(&sent)?;
    let answer = page(pages, listing, offset)?;
    turn.meet(ID);
    Some(answer)
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    let Some(shape) = shape_of(call) else { return };
    let size = match asked_size(call, shape) {
        Some(asked) if turn.page_size() > 0 => asked.min(turn.page_size()),
        _ => turn.page_size(),
    };
    if size == 0 || !response.ok() || !turn.on(ID) {
        return;
    }
    if matches!(shape, Shape::Ec2 { .. }) && call.param("MaxResults").is_none() {
        return;
    }
    let Some(items) = take_items(call, shape, response) else { return };
    let count = match &items {
        Items::Xml(_, items) => items.len(),
        Items::Json(_, items) => items.len(),
    };
    if count <= size {
        return;
    }
    let pages = &mut state.pages;
    pages.next += 1;
    let id = pages.next;
    pages.listings.insert(id, Listing { shape, items, response: response.clone(), size });
    pages.order.push_back(id);
    while pages.order.len() > KEPT {
        if let Some(old) = pages.order.pop_front() {
            pages.listings.remove(&old);
        }
    }
    if let Some(first) = page(pages, id, 0) {
        if matches!(shape, Shape::Route53Records) {
            remember_continuation(pages, call, id, size);
        }
        *response = first;
        turn.meet(ID);
    }
}

fn remember_continuation(pages: &mut Pages, call: &Call, id: u64, size: usize) {
    let Some(Listing { items: Items::Xml(_, items), .. }) = pages.listings.get(&id) else { return };
    let keys: Vec<(usize, String, String)> = (size..items.len())
        .step_by(size)
        .map(|offset| {
            (
                offset,
                items[offset].child_text("Name").unwrap_or_default(),
                items[offset].child_text("Type").unwrap_or_default(),
            )
        })
        .collect();
    for (offset, name, kind) in keys {
        pages.continuations.insert((call.path.clone(), name, kind), token(id, offset));
    }
}

/// Takes the items out of an answer; `None` when it is not a listing of this shape or the
/// emulator already paged it.
fn take_items(call: &Call, shape: Shape, response: &Response) -> Option<Items> {
    if let Shape::Json { list, token, .. } = shape {
        let mut answer = response.json()?;
        if answer.get(token).and_then(Value::as_str).is_some_and(|t| !t.is_empty()) {
            return None;
        }
        let items = answer.get_mut(list)?.as_array_mut().map(std::mem::take)?;
        return Some(Items::Json(answer, items));
    }
    let mut root = response.xml()?;
    let container: Vec<String> = match shape {
        Shape::Query { list, response: token, truncated, .. } => {
            let result = format!("{}Result", call.operation);
            let result_element = root.child(&result)?;
            if result_element.child_text(token).is_some_and(|t| !t.is_empty())
                || (truncated && result_element.child_text("IsTruncated").as_deref() == Some("true"))
            {
                return None;
            }
            vec![result, list.to_string()]
        }
        Shape::Ec2 { list } => {
            if root.child_text("nextToken").is_some_and(|t| !t.is_empty()) {
                return None;
            }
            vec![list.to_string()]
        }
        Shape::S3ObjectsV2 => {
            if root.child_text("IsTruncated").as_deref() == Some("true") || root.child("CommonPrefixes").is_some() {
                return None;
            }
            let contents: Vec<Element> = root.elements().filter(|e| e.name == "Contents").cloned().collect();
            root.remove_children("Contents");
            return Some(Items::Xml(root, contents));
        }
        Shape::S3Buckets => {
            if root.child_text("ContinuationToken").is_some_and(|t| !t.is_empty()) {
                return None;
            }
            vec!["Buckets".to_string()]
        }
        Shape::CloudFront => {
            if root.child_text("IsTruncated").as_deref() == Some("true") {
                return None;
            }
            vec!["Items".to_string()]
        }
        Shape::Route53Records => {
            if root.child_text("IsTruncated").as_deref() == Some("true") {
                return None;
            }
            vec!["ResourceRecordSets".to_string()]
        }
        Shape::Json { .. } => unreachable!("handled above"),
    };
    let path: Vec<&str> = container.iter().map(String::as_str).collect();
    let items = root.find_mut(&path)?.take_elements();
    Some(Items::Xml(root, items))
}

/// The page at `offset` of a kept listing, with the token of the next one.
fn page(pages: &Pages, id: u64, offset: usize) -> Option<Response> {
    let listing = pages.listings.get(&id)?;
    let size = listing.size;
    let total = match &listing.items {
        Items::Xml(_, items) => items.len(),
        Items::Json(_, items) => items.len(),
    };
    let end = (offset + size).min(total);
    let next = (end < total).then(|| token(id, end));
    let mut response = listing.response.clone();
    match &listing.items {
        Items::Json(template, items) => {
            let Shape::Json { list, token: key, .. } = listing.shape else { return None };
            let mut answer = template.clone();
            answer[list] = json!(items.get(offset..end)?.to_vec());
            match &next {
                Some(next) => answer[key] = json!(next),
                None => {
                    if let Some(object) = answer.as_object_mut() {
                        object.remove(key);
                    }
                }
            }
            response.set_json(&answer);
        }
        Items::Xml(template, items) => {
            let mut root = template.clone();
            let slice = items.get(offset..end)?.to_vec();
            let count = slice.len().to_string();
            let truncated = if next.is_some() { "true" } else { "false" };
            match listing.shape {
                Shape::Query { list, response: key, truncated: has_flag, .. } => {
                    let result_name = root.elements().find(|e| e.name.ends_with("Result"))?.name.clone();
                    let result = root.child_mut(&result_name)?;
                    let container = result.child_mut(list)?;
                    slice.into_iter().for_each(|item| container.push(item));
                    result.remove_children(key);
                    if let Some(next) = &next {
                        result.set_child_text(key, next);
                    }
                    if has_flag {
                        result.set_child_text("IsTruncated", truncated);
                    }
                }
                Shape::Ec2 { list } => {
                    let container = root.child_mut(list)?;
                    slice.into_iter().for_each(|item| container.push(item));
                    root.remove_children("nextToken");
                    if let Some(next) = &next {
                        root.set_child_text("nextToken", next);
                    }
                }
                Shape::S3ObjectsV2 => {
                    slice.into_iter().for_each(|item| root.push(item));
                    root.set_child_text("IsTruncated", truncated);
                    root.set_child_text("KeyCount", &count);
                    root.remove_children("NextContinuationToken");
                    root.remove_children("ContinuationToken");
                    if offset > 0 {
                        root.set_child_text("ContinuationToken", &token(id, offset));
                    }
                    if let Some(next) = &next {
                        root.set_child_text("NextContinuationToken", next);
                    }
                }
                Shape::S3Buckets => {
                    let container = root.child_mut("Buckets")?;
                    slice.into_iter().for_each(|item| container.push(item));
                    root.remove_children("ContinuationToken");
                    if let Some(next) = &next {
                        root.set_child_text("ContinuationToken", next);
                    }
                }
                Shape::CloudFront => {
                    let container = root.child_mut("Items")?;
                    slice.into_iter().for_each(|item| container.push(item));
                    root.set_child_text("Quantity", &count);
                    root.set_child_text("IsTruncated", truncated);
                    root.set_child_text("Marker", &if offset > 0 { token(id, offset) } else { String::new() });
                    root.remove_children("NextMarker");
                    if let Some(next) = &next {
                        root.set_child_text("NextMarker", next);
                    }
                }
                Shape::Route53Records => {
                    let next_item = items.get(end).cloned();
                    let container = root.child_mut("ResourceRecordSets")?;
                    slice.into_iter().for_each(|item| container.push(item));
                    root.set_child_text("IsTruncated", truncated);
                    root.remove_children("NextRecordName");
                    root.remove_children("NextRecordType");
                    if let Some(item) = next_item {
                        root.set_child_text("NextRecordName", &item.child_text("Name").unwrap_or_default());
                        root.set_child_text("NextRecordType", &item.child_text("Type").unwrap_or_default());
                    }
                }
                Shape::Json { .. } => return None,
            }
            response.set_xml(&root);
        }
    }
    Some(response)
}
