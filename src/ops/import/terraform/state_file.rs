//! Reading a Terraform state file: format version 4, the only one Terraform 0.12 and later (and
//! OpenTofu) write. The format is Terraform's `internal/states/statefile/version4.go`: a header
//! (`version`, `terraform_version`, `serial`, `lineage`, `outputs`) and `resources`, each with its
//! `mode` (`managed` or `data`), `type`, `name`, optional `module` (`module.web`,
//! `module.app["eu"].module.db`) and `instances` (`index_key` for `count` and `for_each`,
//! `attributes` as the provider wrote them, `status` `tainted`, `deposed` for objects awaiting
//! deletion).
//!
//! Attributes hold secrets in clear (a database password): nothing here prints, logs or returns an
//! attribute value in an error, and the callers copy only the attributes they name.

use serde::Deserialize;
use serde_json::Value as Json;

use provision_core::value::JsonMap;

/// One resource instance of the state, flattened.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The instance's full address as Terraform prints it: `module.web.aws_lb.this[0]`.
    pub address: String,
    /// Module names and instance keys on the way to the resource: `module.web["eu"]` → `web`, `eu`.
    pub module_path: Vec<String>,
    pub managed: bool,
    pub type_name: String,
    pub name: String,
    /// `count` index or `for_each` key, as text.
    pub key: Option<String>,
    pub attributes: JsonMap,
    /// Written in Terraform 0.11's flat form and never upgraded: its values cannot be read.
    pub flat: bool,
    pub tainted: bool,
    /// An old object Terraform replaced and still has to delete.
    pub deposed: bool,
}

impl Instance {
    /// An attribute as text (`None` when absent, null or empty).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Json::as_str).filter(|text| !text.is_empty())
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        self.attributes.get(name).and_then(Json::as_bool)
    }

    /// A number attribute; the provider writes some as strings (`deregistration_delay = "300"`).
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.attributes.get(name)? {
            Json::Number(number) => number.as_i64(),
            Json::String(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// A list of strings (a set in the provider's schema is a JSON list too).
    pub fn texts(&self, name: &str) -> Vec<String> {
        match self.attributes.get(name) {
            Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    }

    /// The first object of a nested block (`versioning_configuration[0]`).
    pub fn block(&self, name: &str) -> Option<&JsonMap> {
        match self.attributes.get(name)? {
            Json::Array(items) => items.first()?.as_object(),
            Json::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Every object of a nested block.
    pub fn blocks(&self, name: &str) -> Vec<&JsonMap> {
        match self.attributes.get(name) {
            Some(Json::Array(items)) => items.iter().filter_map(Json::as_object).collect(),
            _ => Vec::new(),
        }
    }
}

/// A state file's header facts and its instances.
#[derive(Clone, Debug)]
pub struct StateFile {
    pub terraform_version: String,
    pub serial: u64,
    pub lineage: String,
    pub instances: Vec<Instance>,
}

#[derive(Deserialize)]
struct Header {
    version: Option<Json>,
    #[serde(default)]
    terraform_version: String,
    #[serde(default)]
    serial: u64,
    #[serde(default)]
    lineage: String,
    #[serde(default)]
    resources: Vec<ResourceV4>,
    /// OpenTofu's state encryption wraps the whole state.
    encrypted_data: Option<Json>,
}

#[derive(Deserialize)]
struct ResourceV4 {
    #[serde(default)]
    module: String,
    mode: String,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    #[serde(default)]
    instances: Vec<InstanceV4>,
}

#[derive(Deserialize)]
struct InstanceV4 {
    index_key: Option<Json>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    deposed: String,
    attributes: Option<JsonMap>,
    attributes_flat: Option<Json>,
}

/// Parses a state file's text; `source` names it in errors. An error never quotes the text.
pub fn parse(text: &str, source: &str) -> Result<StateFile, String> {
    // The error's own text may quote a value (a password in a misplaced field): only its kind and
    // position are shown.
    let header: Header = serde_json::from_str(text).map_err(|error| {
        let problem = match error.classify() {
            serde_json::error::Category::Data => "a field has an unexpected type",
            serde_json::error::Category::Eof => "the text ends early",
            _ => "not JSON",
        };
        format!(
            "`{source}` is not a Terraform state: {problem} (line {}, column {})\n\nhint: give the state file itself (`terraform.tfstate`), or save a remote one with `terraform state pull > terraform.tfstate`",
            error.line(),
            error.column()
        )
    })?;
    if header.encrypted_data.is_some() {
        return Err(format!(
            "`{source}` is an encrypted OpenTofu state\n\nhint: save it decrypted with `tofu state pull > plain.tfstate` and import that file"
        ));
    }
    match header.version.as_ref().and_then(Json::as_u64) {
        Some(4) => {}
        Some(version) if version < 4 => {
            return Err(format!(
                "`{source}` is a Terraform state of format version {version} (Terraform 0.11 or earlier); provision reads format version 4\n\nhint: let Terraform 0.12 or later upgrade it first: `terraform init && terraform apply -refresh-only`, then import the new file"
            ))
        }
        Some(version) => {
            return Err(format!(
                "`{source}` is a Terraform state of format version {version}, newer than the version 4 provision reads\n\nhint: save it with a Terraform that writes version 4 (`terraform state pull` from Terraform 1.x), or tell us which Terraform wrote it"
            ))
        }
        None => {
            return Err(format!(
                "`{source}` is not a Terraform state: it has no format `version`\n\nhint: give the state file itself (`terraform.tfstate`), not a plan or `terraform show -json` output"
            ))
        }
    }
    let mut instances = Vec::new();
    for resource in header.resources {
        let managed = match resource.mode.as_str() {
            "managed" => true,
            "data" => false,
            other => {
                return Err(format!(
                "`{source}`: resource `{}.{}` has mode `{other}`, which Terraform does not write (`managed` or `data`)",
                resource.type_name, resource.name
            ))
            }
        };
        let module_path = module_path(&resource.module)
            .ok_or_else(|| format!("`{source}`: `{}` is not a module address", resource.module))?;
        for instance in resource.instances {
            let key = match &instance.index_key {
                None | Some(Json::Null) => None,
                Some(Json::Number(number)) => Some(number.to_string()),
                Some(Json::String(text)) => Some(text.clone()),
                Some(_) => {
                    return Err(format!(
                        "`{source}`: an instance of `{}.{}` has an index key that is neither a number nor a string",
                        resource.type_name, resource.name
                    ))
                }
            };
            let mut address = String::new();
            if !resource.module.is_empty() {
                address.push_str(&resource.module);
                address.push('.');
            }
            if !managed {
                address.push_str("data.");
            }
            address.push_str(&format!("{}.{}", resource.type_name, resource.name));
            match &instance.index_key {
                Some(Json::Number(number)) => address.push_str(&format!("[{number}]")),
                Some(Json::String(text)) => address.push_str(&format!("[{}]", Json::String(text.clone()))),
                _ => {}
            }
            instances.push(Instance {
                address,
                module_path: module_path.clone(),
                managed,
                type_name: resource.type_name.clone(),
                name: resource.name.clone(),
                key,
                flat: instance.attributes.is_none() && instance.attributes_flat.is_some(),
                attributes: instance.attributes.unwrap_or_default(),
                tainted: instance.status == "tainted",
                deposed: !instance.deposed.is_empty(),
            });
        }
    }
    Ok(StateFile {
        terraform_version: header.terraform_version,
        serial: header.serial,
        lineage: header.lineage,
        instances,
    })
}

/// `module.web["eu"].module.db[0]` → `["web", "eu", "db", "0"]`; `None` when it is not a module
/// address. Keys are Terraform strings (JSON-style escapes) or numbers.
fn module_path(module: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut rest = module;
    while !rest.is_empty() {
        rest = rest.strip_prefix("module.")?;
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        parts.push(rest[..end].to_string());
        rest = &rest[end..];
        if let Some(inner) = rest.strip_prefix('[') {
            let (key, after) = if inner.starts_with('"') {
                let mut stream = serde_json::Deserializer::from_str(inner).into_iter::<String>();
                let key = stream.next()?.ok()?;
                (key, &inner[stream.byte_offset()..])
            } else {
                let close = inner.find(']')?;
                (inner[..close].to_string(), &inner[close..])
            };
            parts.push(key);
            rest = after.strip_prefix(']')?;
        }
        if let Some(after) = rest.strip_prefix('.') {
            if after.is_empty() {
                return None;
            }
            rest = after;
        }
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(body: &str) -> String {
        format!(
            r#"{{"version": 4, "terraform_version": "1.9.5", "serial": 7, "lineage": "abc", "outputs": {{}}, "resources": [{body}]}}"#
        )
    }

    #[test]
    fn instances_are_flattened_with_their_full_addresses() {
        let text = state(
            r#"{"module": "module.web[\"eu\"]", "mode": "managed", "type": "aws_subnet", "name": "private",
                "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{"index_key": 0, "schema_version": 1, "attributes": {"id": "subnet-1"}},
                              {"index_key": 1, "schema_version": 1, "attributes": {"id": "subnet-2"}, "status": "tainted"}]},
               {"mode": "data", "type": "aws_vpc", "name": "default", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{"schema_version": 0, "attributes": {"id": "vpc-1"}}]}"#,
        );
        let parsed = parse(&text, "t.tfstate").expect("parses");
        assert_eq!(parsed.serial, 7);
        assert_eq!(parsed.instances.len(), 3);
        let first = &parsed.instances[0];
        assert_eq!(first.address, "module.web[\"eu\"].aws_subnet.private[0]");
        assert_eq!(first.module_path, vec!["web", "eu"]);
        assert_eq!(first.key.as_deref(), Some("0"));
        assert_eq!(first.text("id"), Some("subnet-1"));
        assert!(parsed.instances[1].tainted);
        assert_eq!(parsed.instances[2].address, "data.aws_vpc.default");
        assert!(!parsed.instances[2].managed);
    }

    #[test]
    fn module_addresses_split_into_names_and_keys() {
        assert_eq!(module_path("").unwrap(), Vec::<String>::new());
        assert_eq!(module_path("module.a.module.b").unwrap(), vec!["a", "b"]);
        assert_eq!(module_path("module.a[3].module.b[\"x.y]\"]").unwrap(), vec!["a", "3", "b", "x.y]"]);
        assert_eq!(module_path("web"), None);
        assert_eq!(module_path("module."), None);
    }

    #[test]
    fn other_format_versions_are_refused_with_what_to_do() {
        let old = parse(r#"{"version": 3, "serial": 1, "modules": []}"#, "old.tfstate").unwrap_err();
        assert!(old.contains("format version 3") && old.contains("hint:"), "{old}");
        let new = parse(r#"{"version": 5, "resources": []}"#, "new.tfstate").unwrap_err();
        assert!(new.contains("format version 5"), "{new}");
        let plan = parse(r#"{"format_version": "1.2", "planned_values": {}}"#, "plan.json").unwrap_err();
        assert!(plan.contains("no format `version`"), "{plan}");
        let encrypted = parse(r#"{"encrypted_data": "xx", "encryption_version": "v0"}"#, "s").unwrap_err();
        assert!(encrypted.contains("encrypted OpenTofu state"), "{encrypted}");
        let garbage = parse("password=hunter2", "g").unwrap_err();
        assert!(garbage.contains("not JSON") && !garbage.contains("hunter2"), "{garbage}");
    }
}
