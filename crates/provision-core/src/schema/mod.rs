//! The shape of the stack format as data: each resource type's fields, their types and defaults,
//! which of them force a replacement, and the attributes it exposes; the sections (`[stack]`,
//! `[state]`, …) and the keys every resource takes, described the same way.
//!
//! These descriptors drive everything that must agree with everything else: the loader's offline
//! checks (unknown fields, types, allowed values, patterns, ranges), the defaults the planner fills
//! in, the `forces replacement` notes in a plan, the JSON Schema editors use ([`json_schema`]) and
//! the reference docs ([`reference`]). Keeping them data rather than code means those can never
//! drift apart.
//!
//! Adding to the format is adding a descriptor: a field of a type to its driver's table, a key of
//! every resource to [`RESOURCE_KEYS`], a section to [`SECTIONS`], a type by registering its driver.

mod field;
pub mod json_schema;
pub mod reference;
mod sections;
pub mod syntax;
pub mod tags;

pub use field::{Check, Default, FieldKind, FieldSpec, Pattern, References};
pub use sections::{
    resource_key, section, ADDRESS_PATTERN, ENV_NAME_PATTERN, RESOURCE_KEYS, RESOURCE_NAME_PATTERN, RESOURCE_NAME_RULE,
    SECTIONS, STACK_NAME_PATTERN, STACK_NAME_RULE, VPC_PATTERN, VPC_RULE,
};

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

/// What is wrong with a value resolved from references, by the field's pattern and range (a
/// literal value was checked when the file was read): `": `x` is not valid…"` to follow the
/// field's name.
pub fn value_problem(spec: &FieldSpec, value: &crate::value::Value) -> Option<String> {
    use crate::value::Value;
    match (value, spec.pattern, spec.range) {
        (Value::Str(text), Some(pattern), _) if !syntax::is_match(pattern.regex, text) => {
            let shown = if spec.sensitive { "the value".to_string() } else { format!("`{text}`") };
            Some(format!(": {shown} is not valid\n\nhint: use {}", pattern.rule))
        }
        (Value::Int(number), _, Some((min, max))) if !(min..=max).contains(number) => {
            Some(format!(" is {number}; it must be from {min} to {max}"))
        }
        _ => None,
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
