//! A request as the profile sees it: which service, which operation, and its parameters, read from
//! the wire the way each protocol frames them.
//!
//! - EC2 and the other query services (IAM, ELBv2, RDS, ElastiCache, STS): a form body
//!   `Action=CreateSecurityGroup&GroupName=…`, lists as `Name.member.N` (`Name.N` for EC2);
//! - JSON 1.1 (ECS, ECR, ACM, Logs, Secrets Manager, the tagging API): `X-Amz-Target:
//!   Prefix.Operation` and a JSON body;
//! - REST-XML (S3 path-style, CloudFront, Route 53): the operation is the method and the path.
//!
//! The service is the signing name in the `Authorization` header's credential scope (moto picks
//! the service the same way).

use crate::RequestHead;

/// How the request and its answers are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// EC2's query protocol: errors are `<Response><Errors><Error>`.
    Ec2,
    /// The other query services: errors are `<ErrorResponse><Error><Type>`.
    Query,
    /// JSON 1.1: errors carry `__type`.
    Json,
    /// REST with XML bodies.
    RestXml,
}

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The signing name: `ec2`, `elasticloadbalancing`, `ecs`, `s3`, `cloudfront` …
    pub service: String,
    pub wire: Wire,
    /// `CreateSecurityGroup`, `DescribeServices`, `PutBucketVersioning` …
    pub operation: String,
    /// Query protocols: the form, decoded, in order.
    pub form: Vec<(String, String)>,
    /// JSON protocols: the body (`Null` when empty).
    pub json: serde_json::Value,
}

impl Call {
    pub(crate) fn parse(head: &RequestHead, body: &[u8]) -> Call {
        let (raw_path, raw_query) = head.target.split_once('?').unwrap_or((&head.target, ""));
        let path = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy().into_owned();
        let query: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();
        let header = |name: &str| head.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let target = header("x-amz-target");
        let scope_service = header("authorization").and_then(signing_name);
        let content_type = header("content-type").unwrap_or_default();
        let form: Vec<(String, String)> =
            if target.is_none() && content_type.starts_with("application/x-www-form-urlencoded") {
                form_urlencoded::parse(body).into_owned().collect()
            } else {
                Vec::new()
            };
        let action = form.iter().chain(query.iter()).find(|(name, _)| name == "Action").map(|(_, v)| v.clone());
        let service = scope_service.unwrap_or_else(|| match () {
            _ if raw_path.starts_with("/2020-05-31/") => "cloudfront".to_string(),
            _ if raw_path.starts_with("/2013-04-01/") => "route53".to_string(),
            _ => "s3".to_string(),
        });
        let (wire, operation, json) = if let Some(target) = target {
            let operation = target.rsplit('.').next().unwrap_or(target).to_string();
            (Wire::Json, operation, serde_json::from_slice(body).unwrap_or(serde_json::Value::Null))
        } else if let Some(action) = action {
            let wire = if service == "ec2" { Wire::Ec2 } else { Wire::Query };
            (wire, action, serde_json::Value::Null)
        } else {
            (Wire::RestXml, rest_operation(&service, &head.method, &path, &query), serde_json::Value::Null)
        };
        Call {
            method: head.method.clone(),
            path,
            query,
            headers: head.headers.clone(),
            body: body.to_vec(),
            service,
            wire,
            operation,
            form,
            json,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A form parameter (query protocols) or a query-string parameter (REST).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().chain(self.query.iter()).find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The values of a form list: `prefix.1`, `prefix.2` … (EC2), `prefix.member.1` … (ELBv2,
    /// IAM) or `prefix.SubnetIdentifier.1` … (RDS, ElastiCache name their members), and nested
    /// ones such as `prefix.member.1.Name` when `suffix` is given.
    pub(crate) fn list(&self, prefix: &str, suffix: &str) -> Vec<String> {
        let suffix = suffix.trim_start_matches('.');
        self.form
            .iter()
            .filter(|(name, _)| {
                let Some(rest) = name.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('.')) else {
                    return false;
                };
                let mut parts: Vec<&str> = rest.split('.').collect();
                if parts.first().is_some_and(|part| !part.chars().all(|c| c.is_ascii_digit())) {
                    parts.remove(0);
                }
                let index = parts.first().copied().unwrap_or_default();
                let tail = parts.get(1..).map(|rest| rest.join(".")).unwrap_or_default();
                !index.is_empty() && index.chars().all(|c| c.is_ascii_digit()) && tail.as_str() == suffix
            })
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Every form value whose name ends with `.suffix` (or is `suffix`): e.g. all the
    /// `…GroupId` values of `IpPermissions.1.Groups.1.GroupId`.
    pub(crate) fn values_named(&self, suffix: &str) -> Vec<String> {
        self.form
            .iter()
            .filter(|(name, _)| name == suffix || name.ends_with(&format!(".{suffix}")))
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// A string field of the JSON body.
    pub(crate) fn json_str(&self, field: &str) -> Option<&str> {
        self.json.get(field).and_then(serde_json::Value::as_str)
    }

    /// The body as text (REST-XML bodies).
    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// S3 path-style: the bucket and the key (empty when none).
    pub(crate) fn bucket_and_key(&self) -> (&str, &str) {
        let path = self.path.trim_start_matches('/');
        path.split_once('/').unwrap_or((path, ""))
    }

    /// Whether the call changes something (for lost answers): by name, or by method for REST.
    pub(crate) fn mutates(&self) -> bool {
        const READS: [&str; 6] = ["Describe", "List", "Get", "Head", "Batch", "Lookup"];
        match self.wire {
            Wire::RestXml => !matches!(self.method.as_str(), "GET" | "HEAD"),
            _ => !READS.iter().any(|prefix| self.operation.starts_with(prefix)),
        }
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, …` → `ec2`.
fn signing_name(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope: Vec<&str> = credential.split([',', ' ']).next()?.split('/').collect();
    (scope.len() >= 5).then(|| scope[3].to_string())
}

/// The operation of a REST call, named as the API names it (the subset the profile needs).
fn rest_operation(service: &str, method: &str, path: &str, query: &[(String, String)]) -> String {
    let has = |name: &str| query.iter().any(|(n, _)| n == name);
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match service {
        "cloudfront" => match (method, &segments[1..]) {
            ("POST", ["distribution"]) => "CreateDistribution",
            ("GET", ["distribution"]) => "ListDistributions",
            ("GET", ["distribution", _]) => "GetDistribution",
            ("DELETE", ["distribution", _]) => "DeleteDistribution",
            ("GET", ["distribution", _, "config"]) => "GetDistributionConfig",
            ("PUT", ["distribution", _, "config"]) => "UpdateDistribution",
            ("POST", ["origin-access-control"]) => "CreateOriginAccessControl",
            ("GET", ["origin-access-control"]) => "ListOriginAccessControls",
            ("GET", ["origin-access-control", _]) => "GetOriginAccessControl",
            ("DELETE", ["origin-access-control", _]) => "DeleteOriginAccessControl",
            _ => "",
        }
        .to_string(),
        "route53" => match (method, &segments[1..]) {
            ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
            ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
            ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
            ("GET", ["hostedzone"]) => "ListHostedZones",
            ("GET", ["change", _]) => "GetChange",
            _ => "",
        }
        .to_string(),
        _ => {
            let subresource = query.iter().map(|(n, _)| n.as_str()).find(|name| S3_SUBRESOURCES.contains(name));
            match (method, segments.len(), subresource) {
                ("GET", 0, _) => "ListBuckets".to_string(),
                ("PUT", 1, None) => "CreateBucket".to_string(),
                ("DELETE", 1, None) => "DeleteBucket".to_string(),
                ("HEAD", 1, None) => "HeadBucket".to_string(),
                ("GET", 1, None) if has("list-type") => "ListObjectsV2".to_string(),
                ("GET", 1, None) => "ListObjects".to_string(),
                ("GET", 1, Some("versions")) => "ListObjectVersions".to_string(),
                (_, 1, Some("publicAccessBlock")) => format!("{}PublicAccessBlock", verb(method)),
                (_, 1, Some("lifecycle")) => format!("{}BucketLifecycleConfiguration", verb(method)),
                (_, 1, Some(sub)) => format!("{}Bucket{}", verb(method), capitalised(sub)),
                ("PUT", _, _) => "PutObject".to_string(),
                ("GET", _, _) => "GetObject".to_string(),
                ("HEAD", _, _) => "HeadObject".to_string(),
                ("DELETE", _, _) => "DeleteObject".to_string(),
                ("POST", 1, _) if has("delete") => "DeleteObjects".to_string(),
                _ => String::new(),
            }
        }
    }
}

const S3_SUBRESOURCES: [&str; 12] = [
    "versioning",
    "tagging",
    "policy",
    "publicAccessBlock",
    "acl",
    "cors",
    "encryption",
    "lifecycle",
    "location",
    "ownershipControls",
    "website",
    "versions",
];

fn verb(method: &str) -> &'static str {
    match method {
        "PUT" => "Put",
        "DELETE" => "Delete",
        _ => "Get",
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

#[cfg(test)]
pub(crate) fn call(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Call {
    let head = RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
        operation: String::new(),
        content_length: Some(body.len()),
    };
    Call::parse(&head, body.as_bytes())
}

#[cfg(test)]
pub(crate) fn signed(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

    #[test]
    fn query_calls_name_their_action_and_lists() {
        let auth = signed("ec2");
        let call = call(
            "POST",
            "/",
            &[("Authorization", &auth), ("Content-Type", FORM)],
            "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.Groups.1.GroupId=sg-2&IpPermissions.2.Groups.1.GroupId=sg-3",
        );
        assert_eq!(
            (call.service.as_str(), call.wire, call.operation.as_str()),
            ("ec2", Wire::Ec2, "AuthorizeSecurityGroupIngress")
        );
        assert_eq!(call.param("GroupId"), Some("sg-1"));
        assert_eq!(call.values_named("GroupId"), ["sg-1", "sg-2", "sg-3"]);
        assert!(call.mutates());
        let auth = signed("elasticloadbalancing");
        let call = super::call(
            "POST",
            "/",
            &[("Authorization", &auth), ("Content-Type", FORM)],
            "Action=CreateLoadBalancer&SecurityGroups.member.1=sg-a&SecurityGroups.member.2=sg%2Db&Subnets.member.1=s",
        );
        assert_eq!(call.wire, Wire::Query);
        assert_eq!(call.list("SecurityGroups", ""), ["sg-a", "sg-b"]);
        let auth = signed("elasticache");
        let call = super::call(
            "POST",
            "/",
            &[("Authorization", &auth), ("Content-Type", FORM)],
            "Action=CreateCacheSubnetGroup&SubnetIds.SubnetIdentifier.1=s1&SubnetIds.SubnetIdentifier.2=s2&SubnetMappings.member.1.SubnetId=m",
        );
        assert_eq!(call.list("SubnetIds", ""), ["s1", "s2"]);
        assert_eq!(call.list("SubnetMappings", "SubnetId"), ["m"]);
    }

    #[test]
    fn json_and_rest_calls() {
        let auth = signed("ecs");
        let call = call(
            "POST",
            "/",
            &[("Authorization", &auth), ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.CreateService")],
            r#"{"cluster":"c1","serviceName":"s"}"#,
        );
        assert_eq!(
            (call.wire, call.operation.as_str(), call.json_str("cluster")),
            (Wire::Json, "CreateService", Some("c1"))
        );
        assert!(call.mutates());
        let auth = signed("s3");
        let call = super::call("PUT", "/my-bucket?versioning", &[("Authorization", &auth)], "<x/>");
        assert_eq!((call.operation.as_str(), call.bucket_and_key()), ("PutBucketVersioning", ("my-bucket", "")));
        let call = super::call("PUT", "/my-bucket/a/b.txt", &[("Authorization", &auth)], "");
        assert_eq!((call.operation.as_str(), call.bucket_and_key()), ("PutObject", ("my-bucket", "a/b.txt")));
        let call = super::call("GET", "/my-bucket?list-type=2&continuation-token=t", &[("Authorization", &auth)], "");
        assert_eq!((call.operation.as_str(), call.param("continuation-token")), ("ListObjectsV2", Some("t")));
        assert!(!call.mutates());
        let auth = signed("cloudfront");
        let call = super::call("PUT", "/2020-05-31/distribution/E1/config", &[("Authorization", &auth)], "");
        assert_eq!(call.operation, "UpdateDistribution");
        let call = super::call("POST", "/2020-05-31/distribution?WithTags", &[], "");
        assert_eq!((call.service.as_str(), call.operation.as_str()), ("cloudfront", "CreateDistribution"));
    }
}
