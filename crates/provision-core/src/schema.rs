//! The shape of each resource type: its fields, their types and defaults, which of them force a
//! replacement, and the attributes it exposes.
//!
//! One table per type drives everything that must agree with everything else: offline validation
//! (unknown fields, types), the defaults the planner fills in, the `forces replacement` notes in a
//! plan, and the JSON Schema that editors use. Keeping it data rather than code means those can
//! never drift apart.

#[derive(Debug)]
pub struct ResourceSchema {
    pub type_name: &'static str,
    pub description: &'static str,
    pub fields: &'static [FieldSpec],
    /// Attributes other resources may reference as `${TYPE.NAME.ATTRIBUTE}`.
    pub attributes: &'static [&'static str],
    /// Whether the resource takes tags (all provision types do today).
    pub taggable: bool,
    /// Hidden inputs that follow an attribute of the resource another field references.
    pub derived: &'static [DerivedField],
    /// A replacement creates the new resource first, moves dependents over, then deletes the old
    /// one (target groups a listener forwards to). Needs a name that differs between the two, e.g.
    /// [`Default::AwsNameHashing`].
    pub create_before_destroy: bool,
}

/// A hidden input `name` that, when field `from_field` is a reference to another resource, takes that
/// resource's `attribute`. A CloudFront distribution uses it to follow its origin bucket's content
/// hash, so that new uploads show in the plan as an invalidation.
#[derive(Debug)]
pub struct DerivedField {
    pub name: &'static str,
    pub from_field: &'static str,
    pub attribute: &'static str,
}

impl ResourceSchema {
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }
}

#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub default: Default,
    pub required: bool,
    /// AWS cannot change this in place: a change plans a replacement.
    pub forces_replacement: bool,
    /// Never shown, logged or stored in clear.
    pub sensitive: bool,
    pub description: &'static str,
    /// AWS's rules for a string value (naming, length), checked offline on literal values and again
    /// once references are resolved. The error says what is wrong and what is allowed.
    pub check: Option<fn(&str) -> Result<(), String>>,
}

impl FieldSpec {
    pub const fn new(name: &'static str, kind: FieldKind, description: &'static str) -> FieldSpec {
        FieldSpec {
            name,
            kind,
            default: Default::None,
            required: false,
            forces_replacement: false,
            sensitive: false,
            description,
            check: None,
        }
    }

    pub const fn check(mut self, check: fn(&str) -> Result<(), String>) -> FieldSpec {
        self.check = Some(check);
        self
    }

    pub const fn default(mut self, default: Default) -> FieldSpec {
        self.default = default;
        self
    }

    pub const fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }

    pub const fn forces_replacement(mut self) -> FieldSpec {
        self.forces_replacement = true;
        self
    }

    pub const fn sensitive(mut self) -> FieldSpec {
        self.sensitive = true;
        self
    }
}

#[derive(Debug)]
pub enum FieldKind {
    String,
    Bool,
    Int,
    StringList,
    StringMap,
    /// A string holding a JSON document (policies); compared as JSON.
    Json,
    /// A nested table with its own fields, e.g. `health_check = { path = "/" }`.
    Table(&'static [FieldSpec]),
    /// A list of tables, e.g. security group `ingress = [{ port = 80 }]`.
    TableList(&'static [FieldSpec]),
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// A secret given as `{ env = "VARIABLE" }`: read from the environment at plan and apply time,
    /// handed to the driver, and kept in the state and plans only as a salted hash.
    Secret,
}

impl FieldKind {
    pub fn describe(&self) -> String {
        match self {
            FieldKind::String | FieldKind::Json => "a string".into(),
            FieldKind::Bool => "a boolean".into(),
            FieldKind::Int => "an integer".into(),
            FieldKind::StringList => "a list of strings".into(),
            FieldKind::StringMap => "a table of strings".into(),
            FieldKind::Table(_) => "a table".into(),
            FieldKind::TableList(_) => "a list of tables".into(),
            FieldKind::Secret => "a secret, `{ env = \"VARIABLE\" }`".into(),
            FieldKind::Enum(options) => {
                let quoted: Vec<String> = options.iter().map(|o| format!("`\"{o}\"`")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }
}

/// The value a field takes when the stack file leaves it out.
#[derive(Debug)]
pub enum Default {
    None,
    Bool(bool),
    Int(i64),
    Str(&'static str),
    EmptyList,
    EmptyMap,
    /// `<stack name>-<resource name>`, cut to `max_len` with a stable hash suffix.
    AwsName {
        max_len: usize,
    },
    /// Like `AwsName`, with a short hash of these fields' values appended, so a replacement forced by
    /// one of them gets a new name and can be created before the old one is deleted.
    AwsNameHashing {
        max_len: usize,
        fields: &'static [&'static str],
    },
    /// A name built from a pattern where `{stack}` is the stack name and `{name}` the resource
    /// name, e.g. `/provision/{stack}/{name}` for a CloudWatch Logs group.
    Pattern(&'static str),
    /// The `[network]` VPC id.
    NetworkVpcId,
    /// The `[network]` subnets (one per availability zone unless listed): the private ones where
    /// the network has both kinds.
    NetworkSubnetIds,
    /// The `[network]`'s public subnets, or its private ones when the resource's boolean field of
    /// this name is true: an internet-facing load balancer belongs in the public subnets, an
    /// internal one next to the services.
    NetworkSubnetIdsUnless(&'static str),
    /// `true` when the stack lives in the account's default VPC (`[network] vpc = "default"`),
    /// whose subnets are all public: a task there reaches the internet only with a public IP.
    InDefaultVpc,
    /// A list of strings, e.g. `["s3"]`.
    StrList(&'static [&'static str]),
}

impl Default {
    pub fn uses_network(&self) -> bool {
        matches!(self, Default::NetworkVpcId | Default::NetworkSubnetIds | Default::NetworkSubnetIdsUnless(_))
    }
}

/// A [`Default::Pattern`] filled in for one resource.
pub fn fill_pattern(pattern: &str, stack: &str, resource: &str) -> String {
    pattern.replace("{stack}", stack).replace("{name}", resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_the_stack_and_resource_names() {
        assert_eq!(fill_pattern("/provision/{stack}/{name}", "shop", "api_logs"), "/provision/shop/api_logs");
    }
}
