//! Writing adopted resources as a stack file: one table per resource, schema defaults left out,
//! secrets as `{ env = "VARIABLE" }`, and `${TYPE.NAME.ATTRIBUTE}` references wherever one
//! resource's field holds another's id, ARN or address.
//!
//! A value becomes a reference only where that is what it means: never in a resource's own name
//! fields (a target group and a service may both be called `api`), a plain name only where the
//! field names that kind of resource or the name is distinctive, and never so that references go
//! round in a circle (two security groups that let each other in): the edge that would close a
//! cycle keeps its literal id.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use provision_core::address::Address;
use provision_core::driver::DriverRegistry;
use provision_core::schema::{Default, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::JsonMap;

use super::network::NetworkChoice;

/// One resource as read from AWS.
#[derive(Debug)]
pub struct Observation {
    pub address: Address,
    pub inputs: JsonMap,
    pub attributes: JsonMap,
    /// Secret fields and the environment variable each reads.
    pub secrets: Vec<(String, String)>,
    /// A comment line above the table (where the resource came from).
    pub comment: Option<String>,
}

/// Fields that hold a resource's name of this type: a plain name there is that resource.
const NAME_FIELDS: &[(&str, &str)] = &[
    ("origin_bucket", "s3_bucket"),
    ("subnet_group", "db_subnet_group"),
    ("log_group", "log_group"),
    ("cluster", "ecs_cluster"),
];

/// The stack file text for `observations`, headed by `header` (comment lines). Its first line
/// points editors at the stack format written beside it, as `provision init` does.
pub fn render_stack(
    drivers: &DriverRegistry,
    stack_name: &str,
    header: &str,
    observations: &[Observation],
    network: Option<&NetworkChoice>,
) -> String {
    let references = References::new(observations);
    let allowed = references.acyclic_edges(observations, drivers);
    let mut text = format!("#:schema ./{}\n", crate::ops::init::SCHEMA_FILE);
    for line in header.lines() {
        text.push_str(if line.is_empty() { "#\n" } else { "# " });
        if !line.is_empty() {
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut stack = toml::Table::new();
    stack.insert("name".into(), toml::Value::String(stack_name.to_string()));
    text.push('\n');
    write_table(&mut text, "stack", &stack);
    if let Some(network) = network {
        text.push_str(match network.own {
            Some(_) => "\n# The stack lives in its own network, adopted below.\n",
            None => "\n# The network stays where it is; the stack lives in it.\n",
        });
        text.push_str(&super::network::section(network));
    }
    for observation in observations {
        let Some(driver) = drivers.get(&observation.address.type_name) else { continue };
        let table = resource_table(driver.schema(), observation, &references, &allowed, network);
        text.push('\n');
        if let Some(comment) = &observation.comment {
            text.push_str(&format!("# {comment}\n"));
        }
        write_table(&mut text, &observation.address.to_string(), &table);
    }
    text
}

/// `[header]` and its body: scalars, lists and small tables inline; bigger tables (a service's
/// `container`, many tags) as sections of their own after the rest.
fn write_table(out: &mut String, header: &str, table: &toml::Table) {
    out.push_str(&format!("[{header}]\n"));
    let mut sections = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) if !fits_inline(inner) => sections.push((key, inner)),
            _ => out.push_str(&format!("{} = {}\n", key_text(key), value_text(value, true))),
        }
    }
    for (key, inner) in sections {
        out.push('\n');
        write_table(out, &format!("{header}.{}", key_text(key)), inner);
    }
}

fn fits_inline(table: &toml::Table) -> bool {
    table.len() <= 4 && table.values().all(|value| !matches!(value, toml::Value::Table(_) | toml::Value::Array(_)))
}

fn key_text(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

/// One value as TOML; a list of tables at the top level goes one table a line.
fn value_text(value: &toml::Value, top: bool) -> String {
    match value {
        toml::Value::Array(items) if top && items.iter().any(|item| matches!(item, toml::Value::Table(_))) => {
            let lines: Vec<String> = items.iter().map(|item| format!("  {},\n", value_text(item, false))).collect();
            format!("[\n{}]", lines.concat())
        }
        toml::Value::Array(items) => {
            format!("[{}]", items.iter().map(|item| value_text(item, false)).collect::<Vec<_>>().join(", "))
        }
        toml::Value::Table(table) if table.is_empty() => "{}".to_string(),
        toml::Value::Table(table) => {
            let entries: Vec<String> =
                table.iter().map(|(key, value)| format!("{} = {}", key_text(key), value_text(value, false))).collect();
            format!("{{ {} }}", entries.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

fn resource_table(
    schema: &ResourceSchema,
    observation: &Observation,
    references: &References,
    allowed: &BTreeSet<(Address, Address)>,
    network: Option<&NetworkChoice>,
) -> toml::Table {
    let address = &observation.address;
    let mut table = toml::Table::new();
    let secrets: BTreeMap<&str, &str> =
        observation.secrets.iter().map(|(field, variable)| (field.as_str(), variable.as_str())).collect();
    // In the schema's order: names first, as the documentation lists them.
    for spec in schema.fields {
        let Some(value) = observation.inputs.get(spec.name) else { continue };
        if secrets.contains_key(spec.name) || is_default(schema, spec.name, value) {
            continue;
        }
        let value = without_nested_defaults(&spec.kind, value);
        let own_name = is_own_name(schema, spec.name);
        let context = Context { from: address, field: spec.name, own_name, references, allowed, network };
        if let Some(value) = context.to_toml(&value) {
            table.insert(spec.name.to_string(), value);
        }
    }
    if let Some(tags) = observation.inputs.get("tags").and_then(Json::as_object).filter(|tags| !tags.is_empty()) {
        let tags = tags.iter().filter_map(|(k, v)| Some((k.clone(), toml::Value::String(v.as_str()?.into()))));
        table.insert("tags".into(), toml::Value::Table(tags.collect()));
    }
    for (field, variable) in secrets {
        let mut source = toml::Table::new();
        source.insert("env".into(), toml::Value::String(variable.to_string()));
        table.insert(field.to_string(), toml::Value::Table(source));
    }
    table
}

/// A nested table without the entries that are its own fields' defaults (a container's empty
/// `environment`, a health check's default interval).
fn without_nested_defaults(kind: &FieldKind, value: &Json) -> Json {
    let FieldKind::Table(fields) = kind else { return value.clone() };
    let Json::Object(map) = value else { return value.clone() };
    let kept = map.iter().filter(|(key, inner)| !is_default_in(fields, key, inner)).map(|(key, inner)| {
        let inner = match fields.iter().find(|spec| spec.name == key.as_str()) {
            Some(spec) => without_nested_defaults(&spec.kind, inner),
            None => inner.clone(),
        };
        (key.clone(), inner)
    });
    Json::Object(kept.collect())
}

/// A resource's own name fields: its defaults are made from the stack and resource names.
fn is_own_name(schema: &ResourceSchema, field: &str) -> bool {
    let named = schema.field(field).is_some_and(|spec| {
        matches!(spec.default, Default::AwsName { .. } | Default::AwsNameHashing { .. } | Default::Pattern(_))
    });
    named || matches!(field, "name" | "bucket" | "identifier" | "domain" | "description" | "alternative_names")
}

pub fn is_default(schema: &ResourceSchema, field: &str, value: &Json) -> bool {
    is_default_in(schema.fields, field, value)
}

fn is_default_in(fields: &[FieldSpec], field: &str, value: &Json) -> bool {
    let Some(spec) = fields.iter().find(|spec| spec.name == field) else { return false };
    match (&spec.default, value) {
        (Default::Bool(b), Json::Bool(v)) => b == v,
        (Default::Int(i), Json::Number(n)) => n.as_i64() == Some(*i),
        (Default::Str(s), Json::String(v)) => s == v,
        (Default::EmptyList, Json::Array(items)) => items.is_empty(),
        (Default::EmptyMap, Json::Object(map)) => map.is_empty(),
        (Default::StrList(defaults), Json::Array(items)) => {
            items.len() == defaults.len()
                && items.iter().zip(defaults.iter()).all(|(item, d)| item.as_str() == Some(*d))
        }
        _ => false,
    }
}

/// Attribute values of the adopted resources, to find them in other resources' fields.
struct References {
    /// Value → every (resource, attribute) that has it, in the resources' order.
    by_value: BTreeMap<String, Vec<(Address, String)>>,
}

/// Attributes that are names: only a field that names that kind of resource, or a distinctive
/// name that one resource alone has, refers to them.
const NAME_ATTRIBUTES: &[&str] = &["name", "identifier"];

impl References {
    fn new(observations: &[Observation]) -> References {
        let mut by_value: BTreeMap<String, Vec<(Address, String)>> = BTreeMap::new();
        for observation in observations {
            for (attribute, value) in &observation.attributes {
                let Some(text) = value.as_str().filter(|t| t.len() > 3) else { continue };
                by_value.entry(text.to_string()).or_default().push((observation.address.clone(), attribute.clone()));
            }
        }
        References { by_value }
    }

    /// The resource and attribute `text` refers to in `field` of `from`, and what follows the
    /// attribute's value in `text` (an image's `:tag` after a repository's `url`).
    fn lookup(&self, from: &Address, field: &str, text: &str) -> Option<(&(Address, String), String)> {
        if let Some(found) = self.exact(from, field, text) {
            return Some((found, String::new()));
        }
        let (base, tag) = text.rsplit_once(['@', ':']).filter(|(base, _)| base.contains('/'))?;
        let found = self.by_value.get(base)?.iter().find(|(owner, attribute)| owner != from && attribute == "url")?;
        Some((found, text[base.len()..].to_string())).filter(|_| !tag.is_empty())
    }

    fn exact(&self, from: &Address, field: &str, text: &str) -> Option<&(Address, String)> {
        let candidates: Vec<&(Address, String)> =
            self.by_value.get(text)?.iter().filter(|(owner, _)| owner != from).collect();
        let leaf = field.rsplit('.').next().unwrap_or(field);
        let named_here = candidates.iter().find(|(owner, attribute)| {
            NAME_ATTRIBUTES.contains(&attribute.as_str())
                && NAME_FIELDS.iter().any(|(f, t)| *f == leaf && *t == owner.type_name)
        });
        if let Some(found) = named_here {
            return Some(found);
        }
        if let Some(found) = candidates.iter().find(|(_, attribute)| !NAME_ATTRIBUTES.contains(&attribute.as_str())) {
            return Some(found);
        }
        let owners: BTreeSet<&Address> = self.by_value.get(text)?.iter().map(|(owner, _)| owner).collect();
        let distinctive = text.len() >= 8 && text.contains(['-', '.', '/', '_']) && owners.len() == 1;
        candidates.first().copied().filter(|_| distinctive)
    }

    /// Which resource-to-resource references to write: in the order the resources come, each edge
    /// unless the target already reaches the source through edges taken.
    fn acyclic_edges(&self, observations: &[Observation], drivers: &DriverRegistry) -> BTreeSet<(Address, Address)> {
        let mut edges: BTreeSet<(Address, Address)> = BTreeSet::new();
        for observation in observations {
            let Some(driver) = drivers.get(&observation.address.type_name) else { continue };
            let schema = driver.schema();
            let mut targets = BTreeSet::new();
            for (field, value) in &observation.inputs {
                if field == "tags" || schema.field(field).is_none() || is_own_name(schema, field) {
                    continue;
                }
                self.collect(&observation.address, field, value, &mut targets);
            }
            for target in targets {
                if !reaches(&edges, &target, &observation.address) {
                    edges.insert((observation.address.clone(), target));
                }
            }
        }
        edges
    }

    fn collect(&self, from: &Address, field: &str, value: &Json, targets: &mut BTreeSet<Address>) {
        match value {
            Json::String(text) => {
                if let Some(((owner, _), _)) = self.lookup(from, field, text) {
                    targets.insert(owner.clone());
                }
            }
            Json::Array(items) => items.iter().for_each(|item| self.collect(from, field, item, targets)),
            Json::Object(map) => {
                map.iter().for_each(|(key, item)| self.collect(from, &format!("{field}.{key}"), item, targets))
            }
            _ => {}
        }
    }
}

/// Whether `to` can be reached from `from` along `edges`.
fn reaches(edges: &BTreeSet<(Address, Address)>, from: &Address, to: &Address) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.clone()];
    while let Some(node) = stack.pop() {
        if &node == to {
            return true;
        }
        if seen.insert(node.clone()) {
            stack.extend(edges.iter().filter(|(a, _)| *a == node).map(|(_, b)| b.clone()));
        }
    }
    false
}

struct Context<'a> {
    from: &'a Address,
    field: &'a str,
    own_name: bool,
    references: &'a References,
    allowed: &'a BTreeSet<(Address, Address)>,
    network: Option<&'a NetworkChoice>,
}

impl Context<'_> {
    fn to_toml(&self, value: &Json) -> Option<toml::Value> {
        let network = self
            .network
            .filter(|network| !self.own_name && network.own.as_ref() != Some(self.from))
            .and_then(|network| network.reference(value));
        if let Some(reference) = network {
            return Some(toml::Value::String(reference));
        }
        self.convert(self.field, value)
    }

    fn convert(&self, field: &str, value: &Json) -> Option<toml::Value> {
        Some(match value {
            Json::Null => return None,
            Json::Bool(b) => toml::Value::Boolean(*b),
            Json::Number(n) => toml::Value::Integer(n.as_i64()?),
            Json::String(text) => {
                toml::Value::String(self.reference(field, text).unwrap_or_else(|| text.replace("${", "$${")))
            }
            Json::Array(items) => toml::Value::Array(items.iter().filter_map(|i| self.convert(field, i)).collect()),
            Json::Object(map) => toml::Value::Table(
                map.iter().filter_map(|(k, v)| Some((k.clone(), self.convert(&format!("{field}.{k}"), v)?))).collect(),
            ),
        })
    }

    fn reference(&self, field: &str, text: &str) -> Option<String> {
        if self.own_name {
            return None;
        }
        let ((owner, attribute), rest) = self.references.lookup(self.from, field, text)?;
        let rest = rest.replace("${", "$${");
        self.allowed.contains(&(self.from.clone(), owner.clone())).then(|| format!("${{{owner}.{attribute}}}{rest}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_aws::{AwsCloud, ConnectOptions};
    use provision_core::cloud::Cloud;
    use serde_json::json;

    fn observation(address: (&str, &str), inputs: Json, attributes: Json) -> Observation {
        Observation {
            address: Address::new(address.0, address.1),
            inputs: inputs.as_object().unwrap().clone(),
            attributes: attributes.as_object().unwrap().clone(),
            secrets: Vec::new(),
            comment: None,
        }
    }

    fn render(observations: &[Observation]) -> String {
        let cloud = AwsCloud::new(ConnectOptions::default());
        render_stack(cloud.drivers(), "shop", "Written by a test.", observations, None)
    }

    #[test]
    fn ids_become_references_and_own_names_stay_literal() {
        let text = render(&[
            observation(
                ("s3_bucket", "site"),
                json!({"bucket": "my-site", "versioning": false}),
                json!({"name": "my-site", "arn": "arn:aws:s3:::my-site"}),
            ),
            observation(
                ("cloudfront_distribution", "cdn"),
                json!({"origin_bucket": "my-site", "price_class": "PriceClass_All", "tags": {}}),
                json!({"id": "E123"}),
            ),
        ]);
        assert!(text.contains("origin_bucket = \"${s3_bucket.site.name}\""), "{text}");
        assert!(text.contains("bucket = \"my-site\""), "the bucket's own name stays literal:\n{text}");
        assert!(!text.contains("versioning"), "defaults are left out:\n{text}");
        assert!(text.contains("price_class = \"PriceClass_All\""), "{text}");
        assert!(!text.contains("tags"), "{text}");
        assert!(
            text.starts_with("#:schema ./stack.schema.json\n# Written by a test.\n\n[stack]\nname = \"shop\"\n"),
            "{text}"
        );
        let parsed: toml::Table = toml::from_str(&text).expect("the text is TOML");
        assert_eq!(parsed["cloudfront_distribution"]["cdn"]["origin_bucket"].as_str(), Some("${s3_bucket.site.name}"));
    }

    #[test]
    fn a_short_name_another_resource_shares_is_no_reference() {
        let text = render(&[
            observation(
                ("ecs_cluster", "main"),
                json!({"name": "api"}),
                json!({"name": "api", "arn": "arn:aws:ecs:us-east-1:1:cluster/api"}),
            ),
            observation(
                ("target_group", "api"),
                json!({"name": "api", "port": 80, "vpc": "vpc-1"}),
                json!({"name": "api", "arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/1"}),
            ),
        ]);
        assert!(!text.contains("${"), "{text}");
    }

    #[test]
    fn groups_that_let_each_other_in_keep_one_literal_id() {
        let group = |name: &str, id: &str, from: &str| {
            observation(
                ("security_group", name),
                json!({"name": name, "vpc": "vpc-1", "ingress": [{"port": 80, "protocol": "tcp", "from": from}]}),
                json!({"id": id, "arn": format!("arn:aws:ec2:us-east-1:1:security-group/{id}")}),
            )
        };
        let text = render(&[group("web", "sg-1111", "sg-2222"), group("db", "sg-2222", "sg-1111")]);
        assert!(text.contains("from = \"${security_group.db.id}\""), "{text}");
        assert!(text.contains("from = \"sg-1111\""), "the edge closing the cycle stays literal:\n{text}");
    }

    #[test]
    fn an_image_of_an_adopted_repository_names_its_url_and_nested_defaults_are_left_out() {
        let url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-api";
        let text = render(&[
            observation(
                ("ecr_repository", "api"),
                json!({"name": "shop-api"}),
                json!({"name": "shop-api", "url": url}),
            ),
            observation(
                ("ecs_service", "api"),
                json!({"name": "shop-api", "cluster": "c", "container": {"image": format!("{url}:v1"), "environment": {}, "command": []}}),
                json!({"name": "shop-api"}),
            ),
        ]);
        assert!(text.contains("image = \"${ecr_repository.api.url}:v1\""), "{text}");
        assert!(!text.contains("environment") && !text.contains("command"), "{text}");
    }

    #[test]
    fn secrets_are_environment_variables() {
        let mut db = observation(
            ("db_instance", "main"),
            json!({"identifier": "shop-db", "engine": "postgres"}),
            json!({"identifier": "shop-db"}),
        );
        db.secrets.push(("password".into(), "DB_INSTANCE_MAIN_PASSWORD".into()));
        db.comment = Some("aws_db_instance.main".into());
        let text = render(&[db]);
        assert!(text.contains("# aws_db_instance.main\n[db_instance.main]\n"), "{text}");
        assert!(text.contains("password = { env = \"DB_INSTANCE_MAIN_PASSWORD\" }"), "{text}");
    }

    #[test]
    fn the_network_is_named_once_and_its_ids_become_network_references() {
        let choice = NetworkChoice {
            vpc: "vpc-1".into(),
            subnets: Some(vec!["subnet-a".into(), "subnet-b".into()]),
            found: provision_core::cloud::Network {
                vpc_id: "vpc-1".into(),
                subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
                ..provision_core::cloud::Network::default()
            },
            own: None,
        };
        let observations = [
            observation(("security_group", "web"), json!({"name": "vpc-1", "vpc": "vpc-1"}), json!({"id": "sg-1111"})),
            observation(
                ("ecs_service", "api"),
                json!({"name": "api", "cluster": "c", "subnets": ["subnet-b", "subnet-a"]}),
                json!({"name": "api"}),
            ),
        ];
        let cloud = AwsCloud::new(ConnectOptions::default());
        let text = render_stack(cloud.drivers(), "shop", "Written by a test.", &observations, Some(&choice));
        assert!(text.contains("[network]\nvpc = \"vpc-1\"\nsubnets = [\"subnet-a\", \"subnet-b\"]\n"), "{text}");
        assert!(text.contains("vpc = \"${network.vpc_id}\""), "{text}");
        assert!(text.contains("name = \"vpc-1\""), "a resource's own name stays as it is:\n{text}");
        assert!(text.contains("subnets = \"${network.subnet_ids}\""), "{text}");
    }
}
