//! The reference docs, written from the descriptors: `docs/resources.md` whole, and the field tables
//! of `docs/stack-format.md` between `<!-- generated: NAME -->` and `<!-- end generated -->`
//! markers. A test in the binary compares both with what is committed.

use super::{Default, FieldKind, FieldSpec, ResourceSchema, RESOURCE_KEYS, SECTIONS};

/// `docs/resources.md`: every resource type's fields and attributes, and the keys every resource
/// takes.
pub fn resources_markdown(types: &[&ResourceSchema]) -> String {
    let mut out = String::from(
        "# Resource types\n\n\
         Generated from provision's own schemas by `provision schema --markdown`; `validate` checks stack files\n\
         against exactly these tables, and `provision schema` gives them to editors. **replace** marks fields\n\
         AWS cannot change in place: changing one plans a replacement. Strings may hold `${…}` references\n\
         (docs/stack-format.md), and a field of another type may be given as one reference, e.g.\n\
         `\"${var.replicas}\"`.\n\n\
         ## Every resource\n\n\
         Besides its type's fields, every resource takes:\n\n",
    );
    out.push_str(&fields_table(RESOURCE_KEYS));
    for schema in types {
        out.push_str(&format!("\n## `{}`\n\n{}\n\n", schema.type_name, schema.description));
        out.push_str(&fields_table(schema.fields));
        let attributes: Vec<String> = schema.attributes.iter().map(|a| format!("`{a}`")).collect();
        out.push_str(&format!("\nAttributes: {}.\n", attributes.join(", ")));
        if schema.create_before_destroy {
            out.push_str(
                "A replacement creates the new resource first, moves its users over, then deletes the old one.\n",
            );
        }
    }
    out
}

/// The generated block `name` of `docs/stack-format.md`: a section's field table (`stack`,
/// `notify`, …), or `resource keys`.
pub fn stack_format_block(name: &str) -> Option<String> {
    if name == "resource keys" {
        return Some(fields_table(RESOURCE_KEYS));
    }
    let section = SECTIONS.iter().find(|s| s.name == name)?;
    let header = match section.kind {
        FieldKind::TableList(_) => format!("`[[{}]]`", section.name),
        _ => format!("`[{}]`", section.name),
    };
    let required = if section.required { "required" } else { "optional" };
    let mut out = format!("{header} ({required}): {}.\n\n", section.description);
    match (&section.kind, section.kind.fields()) {
        (_, Some(fields)) => out.push_str(&fields_table(fields)),
        (FieldKind::Map(value), None) => out.push_str(&format!("Each entry is `NAME = …`: {}.\n", value.describe())),
        (kind, None) => out.push_str(&format!("It is {}.\n", kind.describe())),
    }
    Some(out)
}

/// `text` with every generated block's content replaced by `generate(NAME)`; an error names a
/// block `generate` does not know or a marker left open.
pub fn update_generated_blocks(text: &str, generate: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    const OPEN: &str = "<!-- generated: ";
    const CLOSE: &str = "<!-- end generated -->";
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after_open = &rest[start + OPEN.len()..];
        let Some(name_end) = after_open.find(" -->") else {
            return Err("a `<!-- generated: NAME -->` marker is not closed".into());
        };
        let name = &after_open[..name_end];
        let body_start = start + OPEN.len() + name_end + " -->".len();
        let Some(end) = rest[body_start..].find(CLOSE) else {
            return Err(format!("the generated block `{name}` has no `{CLOSE}`"));
        };
        let content = generate(name).ok_or_else(|| format!("no generated block is called `{name}`"))?;
        out.push_str(&rest[..body_start]);
        out.push('\n');
        out.push_str(&content);
        out.push_str(CLOSE);
        rest = &rest[body_start + end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fields_table(fields: &[FieldSpec]) -> String {
    let mut out = String::from("| field | type | default | |\n|---|---|---|---|\n");
    for field in fields {
        push_field_row(&mut out, "", field);
    }
    out
}

fn push_field_row(out: &mut String, prefix: &str, field: &FieldSpec) {
    let default = match &field.default {
        Default::None if field.required => "required".to_string(),
        Default::None => "—".to_string(),
        Default::Bool(b) => format!("`{b}`"),
        Default::Int(i) => format!("`{i}`"),
        Default::Str(s) => format!("`\"{s}\"`"),
        Default::EmptyList => "`[]`".to_string(),
        Default::EmptyMap => "`{}`".to_string(),
        Default::StrList(items) => {
            format!("`[{}]`", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", "))
        }
        Default::AwsName { .. } | Default::AwsNameHashing { .. } => "`<stack>-<name>`".to_string(),
        Default::Pattern(pattern) => format!("`{}`", pattern.replace("{stack}", "<stack>").replace("{name}", "<name>")),
        Default::NetworkVpcId => "the `[network]` VPC".to_string(),
        Default::NetworkSubnetIds => "the `[network]`'s private subnets".to_string(),
        Default::NetworkSubnetIdsUnless(flag) => {
            format!("the `[network]`'s public subnets (its private ones when `{flag} = true`)")
        }
        Default::InDefaultVpc => "`true` in the default VPC, else `false`".to_string(),
    };
    let mut notes = Vec::new();
    if field.forces_replacement {
        notes.push("**replace**".to_string());
    }
    if field.sensitive || matches!(field.kind, FieldKind::Secret) {
        notes.push("secret".to_string());
    }
    notes.push(field.description.replace('|', "\\|").replace('\n', " "));
    if let Some(pattern) = field.pattern {
        notes.push(format!("— {}", pattern.rule.replace('|', "\\|")));
    }
    let mut kind = field.kind.doc_name();
    if let Some((min, max)) = field.range {
        kind = format!("{kind}, {min} to {max}");
    }
    if field.non_empty {
        kind = format!("{kind}, not empty");
    }
    out.push_str(&format!("| `{prefix}{}` | {kind} | {default} | {} |\n", field.name, notes.join(" ")));
    let nested: Vec<&'static [FieldSpec]> = match &field.kind {
        FieldKind::OneOf(kinds) => kinds.iter().filter_map(FieldKind::fields).collect(),
        kind => kind.fields().into_iter().collect(),
    };
    let prefix = format!("{prefix}{}.", field.name);
    for field in nested.into_iter().flatten() {
        push_field_row(out, &prefix, field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_blocks_are_replaced_and_the_rest_is_kept() {
        let text = "intro\n<!-- generated: a -->\nold\n<!-- end generated -->\nmiddle\n<!-- generated: b -->\n<!-- end generated -->\nend\n";
        let updated = update_generated_blocks(text, &|name| Some(format!("new {name}\n"))).unwrap();
        assert_eq!(
            updated,
            "intro\n<!-- generated: a -->\nnew a\n<!-- end generated -->\nmiddle\n<!-- generated: b -->\nnew b\n<!-- end generated -->\nend\n"
        );
        assert!(update_generated_blocks(text, &|_| None).unwrap_err().contains("`a`"));
        assert!(update_generated_blocks("<!-- generated: a -->\n", &|_| Some(String::new())).is_err());
    }

    #[test]
    fn section_tables_show_types_defaults_and_rules() {
        let notify = stack_format_block("notify").unwrap();
        assert!(notify.contains("| `events` | list of `started` / `finished` / `failed` / `summary`, not empty | `[\"finished\", \"failed\", \"summary\"]` |"), "{notify}");
        assert!(notify.contains("| `webhook.env` | string | required |"), "{notify}");
        let stack = stack_format_block("stack").unwrap();
        assert!(stack.contains("`[stack]` (required)"), "{stack}");
        assert!(stack.contains("1 to 28 characters"), "{stack}");
        assert!(stack_format_block("moved").unwrap().starts_with("`[[moved]]` (optional)"));
        assert!(stack_format_block("resource keys").unwrap().contains("| `depends_on` |"));
        assert!(stack_format_block("nothing").is_none());
    }
}
