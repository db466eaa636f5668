//! One field of the stack format: its type, default, the values it allows and the references it
//! may hold. The same descriptor serves a resource's field, a section's field and a section itself.

/// An AWS rule for a string value: what is wrong with it and what is allowed, if anything.
pub type Check = fn(&str) -> Result<(), String>;

/// A field, key or section of the stack file.
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
    /// once references are resolved. The error says what is wrong and what is allowed. JSON Schema
    /// cannot say all of this; what it can is in `pattern`.
    pub check: Option<Check>,
    /// A regular expression every literal string of the field must match (searched for, as JSON
    /// Schema's `pattern` is): the loader and the JSON Schema use the same one.
    pub pattern: Option<Pattern>,
    /// The smallest and the largest integer allowed.
    pub range: Option<(i64, i64)>,
    /// A list needs at least one item; a string at least one character.
    pub non_empty: bool,
    /// Which `${…}` references the strings inside may hold; `None` takes the enclosing field's
    /// (everything in a resource: [`References::Any`]).
    pub references: Option<References>,
}

/// A regular expression and the rule it states, in words, for the error's hint.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    pub regex: &'static str,
    pub rule: &'static str,
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
            pattern: None,
            range: None,
            non_empty: false,
            references: None,
        }
    }

    pub const fn check(mut self, check: Check) -> FieldSpec {
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

    /// Literal strings must match `regex`; `rule` says what that means, e.g. "lowercase letters".
    pub const fn pattern(mut self, regex: &'static str, rule: &'static str) -> FieldSpec {
        self.pattern = Some(Pattern { regex, rule });
        self
    }

    /// Literal integers must lie in `min..=max`.
    pub const fn range(mut self, min: i64, max: i64) -> FieldSpec {
        self.range = Some((min, max));
        self
    }

    pub const fn non_empty(mut self) -> FieldSpec {
        self.non_empty = true;
        self
    }

    pub const fn references(mut self, references: References) -> FieldSpec {
        self.references = Some(references);
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
    /// A list whose items are of this kind, e.g. `events = ["finished"]`.
    List(&'static FieldKind),
    /// A table of any keys whose values are of this kind.
    Map(&'static FieldKind),
    /// Any one of these kinds, told apart by the value's TOML type, e.g. a URL or `{ env = "…" }`.
    OneOf(&'static [FieldKind]),
    /// Tags: a table of strings whose keys and values follow AWS's rules for tags.
    Tags,
    /// A string, integer, boolean, or a list of those (`[variables]`).
    Value,
    /// A string, integer, boolean, list or table, nested at will (`[outputs]`).
    Any,
}

impl FieldKind {
    pub fn describe(&self) -> String {
        match self {
            FieldKind::String | FieldKind::Json => "a string".into(),
            FieldKind::Bool => "a boolean".into(),
            FieldKind::Int => "an integer".into(),
            FieldKind::StringList => "a list of strings".into(),
            FieldKind::StringMap | FieldKind::Tags => "a table of strings".into(),
            FieldKind::Table(_) => "a table".into(),
            FieldKind::TableList(_) => "a list of tables".into(),
            FieldKind::Secret => "a secret, `{ env = \"VARIABLE\" }`".into(),
            FieldKind::Enum(options) => {
                let quoted: Vec<String> = options.iter().map(|o| format!("`\"{o}\"`")).collect();
                format!("one of {}", quoted.join(", "))
            }
            FieldKind::List(item) => match plural(item) {
                Some(items) => format!("a list of {items}"),
                None => format!("a list, each {}", item.describe()),
            },
            FieldKind::Map(value) => match plural(value) {
                Some(values) => format!("a table of {values}"),
                None => format!("a table, each value {}", value.describe()),
            },
            FieldKind::OneOf(kinds) => kinds.iter().map(FieldKind::describe).collect::<Vec<_>>().join(" or "),
            FieldKind::Value => "a string, integer, boolean or list".into(),
            FieldKind::Any => "a string, integer, boolean, list or table".into(),
        }
    }

    /// The kind's name in the reference tables of the docs.
    pub fn doc_name(&self) -> String {
        match self {
            FieldKind::String => "string".into(),
            FieldKind::Json => "JSON string".into(),
            FieldKind::Bool => "boolean".into(),
            FieldKind::Int => "integer".into(),
            FieldKind::StringList => "list of strings".into(),
            FieldKind::StringMap => "table of strings".into(),
            FieldKind::Tags => "table of strings".into(),
            FieldKind::Table(_) => "table".into(),
            FieldKind::TableList(_) => "list of tables".into(),
            FieldKind::Enum(options) => options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(" / "),
            FieldKind::Secret => "`{ env = \"VAR\" }`".into(),
            FieldKind::List(item) => format!("list of {}", item.doc_name()),
            FieldKind::Map(value) => format!("table of {}", value.doc_name()),
            FieldKind::OneOf(kinds) => kinds.iter().map(FieldKind::doc_name).collect::<Vec<_>>().join(" or "),
            FieldKind::Value => "string, integer, boolean or list".into(),
            FieldKind::Any => "any value".into(),
        }
    }

    /// The fields of a table, or of each table of a list of tables.
    pub fn fields(&self) -> Option<&'static [FieldSpec]> {
        match self {
            FieldKind::Table(fields) | FieldKind::TableList(fields) => Some(fields),
            _ => None,
        }
    }
}

/// `strings` for "a list of strings", where the kind has a one-word name.
fn plural(kind: &FieldKind) -> Option<&'static str> {
    Some(match kind {
        FieldKind::String | FieldKind::Json => "strings",
        FieldKind::Int => "integers",
        FieldKind::Bool => "booleans",
        FieldKind::Table(_) => "tables",
        _ => return None,
    })
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
    /// A list of strings, e.g. the events `[notify]` sends.
    StrList(&'static [&'static str]),
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
}

impl Default {
    /// The default as a value where it is one written out (not a name or a network look-up).
    pub fn literal(&self) -> Option<crate::value::Value> {
        use crate::value::Value;
        Some(match self {
            Default::Bool(b) => Value::Bool(*b),
            Default::Int(i) => Value::Int(*i),
            Default::Str(s) => Value::Str(s.to_string()),
            Default::EmptyList => Value::List(Vec::new()),
            Default::EmptyMap => Value::Map(std::collections::BTreeMap::new()),
            Default::StrList(items) => Value::List(items.iter().map(|s| Value::Str(s.to_string())).collect()),
            Default::None
            | Default::AwsName { .. }
            | Default::AwsNameHashing { .. }
            | Default::Pattern(_)
            | Default::NetworkVpcId
            | Default::NetworkSubnetIds
            | Default::NetworkSubnetIdsUnless(_)
            | Default::InDefaultVpc => return None,
        })
    }

    pub fn uses_network(&self) -> bool {
        matches!(self, Default::NetworkVpcId | Default::NetworkSubnetIds | Default::NetworkSubnetIdsUnless(_))
    }
}

/// Which `${…}` references a string may hold. The loader refuses the others where it reads the
/// file; the JSON Schema states the same with a regular expression (see [`super::syntax`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum References {
    /// Every kind: `${TYPE.NAME.ATTRIBUTE}`, `${var.NAME}`, `${network.…}`, `${stack.…}`.
    Any,
    /// `${var.NAME}` only: read before anything else is known (`[stack]`, tags).
    Variables,
    /// `${var.NAME}` and `${stack.name}` (`[state]`: one state per stack name).
    VariablesAndStackName,
    /// `${var.NAME}` or `${TYPE.NAME.ATTRIBUTE}` (`[network] vpc`: a VPC id per environment, or the
    /// stack's own network).
    VariablesOrResources,
    /// None: the text is taken as written, `${` included (`[network]`, `[notify]`, addresses).
    None,
}

impl References {
    /// What the docs and hints say a string here may hold.
    pub fn describe(self) -> &'static str {
        match self {
            References::Any => {
                "`${TYPE.NAME.ATTRIBUTE}`, `${var.NAME}`, `${network.ATTRIBUTE}` or `${stack.ATTRIBUTE}` references"
            }
            References::Variables => "`${var.NAME}` references",
            References::VariablesAndStackName => "`${var.NAME}` and `${stack.name}` references",
            References::VariablesOrResources => "`${var.NAME}` or `${TYPE.NAME.ATTRIBUTE}` references",
            References::None => "no references",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_describe_themselves_for_errors() {
        assert_eq!(FieldKind::List(&FieldKind::Enum(&["a", "b"])).describe(), "a list, each one of `\"a\"`, `\"b\"`");
        assert_eq!(FieldKind::List(&FieldKind::String).describe(), "a list of strings");
        assert_eq!(
            FieldKind::OneOf(&[FieldKind::String, FieldKind::Secret]).describe(),
            "a string or a secret, `{ env = \"VARIABLE\" }`"
        );
    }
}
