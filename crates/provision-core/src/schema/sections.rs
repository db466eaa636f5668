//! The stack file's sections (`[stack]`, `[state]`, …) and the keys every resource takes
//! (`tags`, `depends_on`), described as data like each resource type's fields: the loader checks
//! the file against these, `provision schema` writes them as JSON Schema, and the field tables of
//! `docs/stack-format.md` are generated from them.
//!
//! A new section is one entry in [`SECTIONS`] (plus the code that reads its meaning in
//! `stack/loader/`); a new key on every resource is one entry in [`RESOURCE_KEYS`].

use super::{Default, FieldKind, FieldSpec, References};
use crate::stack::notify::{check_url, NotifyEvent, NotifyFormat, URL_PATTERN};
use crate::stack::region::{check_region, REGION_PATTERN};
use crate::stack::{check_duration, check_s3_url};

/// A stack name prefixes every AWS name, so it is short and plain.
pub const STACK_NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,27}$";
pub const STACK_NAME_RULE: &str = "1 to 28 characters: a lowercase letter, then lowercase letters, digits or `-`";
/// `NAME` in `[TYPE.NAME]`.
pub const RESOURCE_NAME_PATTERN: &str = "^[a-z][a-z0-9_]*$";
pub const RESOURCE_NAME_RULE: &str = "lowercase letters, digits and `_`, starting with a letter";
/// `TYPE.NAME`.
pub const ADDRESS_PATTERN: &str = "^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$";
pub const ADDRESS_RULE: &str = "an address `TYPE.NAME`, e.g. `\"s3_bucket.site\"`";
/// An environment variable's name.
pub const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
pub const ENV_NAME_RULE: &str = "an environment variable's name: letters, digits and `_`, not starting with a digit";
/// `default`, or a VPC id: `vpc-` and 8 or 17 lowercase hexadecimal digits (AWS's two lengths).
pub const VPC_PATTERN: &str = "^(default|vpc-[0-9a-f]{8}|vpc-[0-9a-f]{17})$";
pub const VPC_RULE: &str = "`\"default\"` or `vpc-` and 8 or 17 hexadecimal digits";
const S3_PATTERN: &str = "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*[^/]$";
const DURATION_PATTERN: &str = "^\\s*[0-9]+[smh]?\\s*$";

/// The sections of a stack file, in the order the docs list them.
pub static SECTIONS: &[FieldSpec] = &[
    FieldSpec::new("stack", FieldKind::Table(STACK), "The stack: its name, region and the tags every resource gets")
        .required()
        .references(References::Variables),
    FieldSpec::new(
        "state",
        FieldKind::Table(STATE),
        "Where the state is kept: a local file (the default) or an S3 object a team shares",
    )
    .references(References::VariablesAndStackName),
    FieldSpec::new(
        "variables",
        FieldKind::Map(&FieldKind::OneOf(&[FieldKind::Value, FieldKind::Table(VARIABLE)])),
        "Values the stack uses as `${var.NAME}`; `--var NAME=VALUE` overrides one. A secret is declared \
         `NAME = { sensitive = true }` (its value from `--var`) or `{ default = \"…\", sensitive = true }`: \
         it may be used only in secret fields, and is never shown or stored in clear",
    )
    .references(References::None),
    FieldSpec::new(
        "network",
        FieldKind::Table(NETWORK),
        "The network the stack lives in, existing or its own; gives `${network.vpc_id}`, `${network.subnet_ids}` and `${network.public_subnet_ids}`",
    )
    .references(References::None),
    FieldSpec::new("notify", FieldKind::Table(NOTIFY), "Tell a chat channel or any HTTP endpoint what `apply` and `destroy` do")
        .references(References::None),
    FieldSpec::new(
        "moved",
        FieldKind::TableList(MOVED),
        "A resource renamed in the file: its state entry follows the new name, nothing is replaced",
    )
    .references(References::None),
    FieldSpec::new(
        "guardrails",
        FieldKind::Table(GUARDRAILS),
        "Built-in guardrail findings accepted on purpose, each with the reason the plan prints",
    )
    .references(References::None),
    FieldSpec::new(
        "outputs",
        FieldKind::Map(&FieldKind::Any),
        "Values `provision output` prints; strings may hold references, e.g. `\"https://${cloudfront_distribution.cdn.domain_name}\"`",
    )
    .references(References::Any),
];

/// Keys every resource takes besides its type's fields.
pub static RESOURCE_KEYS: &[FieldSpec] = &[
    FieldSpec::new(
        "tags",
        FieldKind::Tags,
        "Tags for this resource, added to `[stack] tags` (values may use `${var.NAME}`)",
    )
    .default(Default::EmptyMap)
    .references(References::Variables),
    FieldSpec::new(
        "depends_on",
        FieldKind::StringList,
        "Resources to create before this one (and delete after it) besides those it references",
    )
    .default(Default::EmptyList)
    .pattern(ADDRESS_PATTERN, ADDRESS_RULE)
    .references(References::None),
    FieldSpec::new(
        "protect",
        FieldKind::Bool,
        "Refuse to destroy, replace or remove this resource until an apply turns this off (e.g. `\"${var.production}\"`)",
    )
    .default(Default::Bool(false))
    .references(References::Variables),
];

const STACK: &[FieldSpec] = &[
    FieldSpec::new("name", FieldKind::String, "The stack's name: it prefixes AWS names and tags every resource")
        .required()
        .pattern(STACK_NAME_PATTERN, STACK_NAME_RULE),
    FieldSpec::new("region", FieldKind::String, "The AWS region; else `--region`, then the AWS config chain")
        .check(check_region)
        .pattern(REGION_PATTERN, "an AWS region name, e.g. `us-east-1`"),
    FieldSpec::new("tags", FieldKind::Tags, "Tags added to every resource").default(Default::EmptyMap),
    FieldSpec::new(
        "endpoint",
        FieldKind::String,
        "A local AWS emulator's URL; `--endpoint` and `AWS_ENDPOINT_URL` override it",
    ),
];

const STATE: &[FieldSpec] = &[
    FieldSpec::new("path", FieldKind::String, "A local state file, relative to the current folder")
        .default(Default::Pattern("state/{stack}.json")),
    FieldSpec::new(
        "s3",
        FieldKind::String,
        "A state the team shares, `s3://BUCKET/KEY.json`: locked with a lease, written with `If-Match`",
    )
    .check(check_s3_url)
    .pattern(S3_PATTERN, "`s3://BUCKET/KEY`, e.g. `s3://my-team-state/shop/prod.json`"),
    FieldSpec::new("region", FieldKind::String, "The state bucket's region, if not the stack's (S3 only)")
        .check(check_region)
        .pattern(REGION_PATTERN, "an AWS region name, e.g. `eu-west-1`"),
    FieldSpec::new("lock_ttl", FieldKind::String, "The lock's lease; its holder renews it every third of it (S3 only)")
        .default(Default::Str("5m"))
        .check(check_duration)
        .pattern(DURATION_PATTERN, "a duration like `30s`, `5m` or `1h`"),
    FieldSpec::new(
        "kms_key",
        FieldKind::String,
        "Encrypt the state with this KMS key (`aws:kms`) instead of AES256 (S3 only)",
    )
    .non_empty(),
];

/// `NAME = { default = …, sensitive = true }` in `[variables]`.
const VARIABLE: &[FieldSpec] = &[
    FieldSpec::new(
        "default",
        FieldKind::Value,
        "The value unless `--var NAME=VALUE` gives one; without it, `--var` must",
    ),
    FieldSpec::new(
        "sensitive",
        FieldKind::Bool,
        "A secret: usable only in secret fields, hashed in the state and plans, never printed",
    )
    .default(Default::Bool(false)),
    FieldSpec::new("description", FieldKind::String, "What the variable is for"),
];

const NETWORK: &[FieldSpec] = &[
    FieldSpec::new(
        "vpc",
        FieldKind::String,
        "`\"default\"` (the region's default VPC), a VPC id, or the stack's own network: `\"${vpc.NAME.id}\"`; \
         the first two may come from a variable (`\"${var.vpc}\"`: a VPC per environment)",
    )
    .default(Default::Str("default"))
    .pattern(VPC_PATTERN, VPC_RULE)
    .references(References::VariablesOrResources),
    FieldSpec::new(
        "subnets",
        FieldKind::StringList,
        "Subnet ids of an existing VPC; default: its subnets, one per availability zone (the private ones where it has both); \
         ids may come from variables, or all of them from one list variable (`\"${var.subnets}\"`)",
    )
    .non_empty()
    .references(References::Variables),
];

const NOTIFY: &[FieldSpec] = &[
    FieldSpec::new(
        "webhook",
        FieldKind::OneOf(&[FieldKind::String, FieldKind::Table(WEBHOOK_FROM_ENV)]),
        "Where to POST: `{ env = \"VARIABLE\" }` reads the URL from the environment when provision runs; a URL in the file works too but keeps a secret there",
    )
    .required()
    .sensitive()
    .check(check_url)
    .pattern(URL_PATTERN, "a URL starting with `https://` or `http://`"),
    FieldSpec::new(
        "events",
        FieldKind::List(&FieldKind::Enum(NotifyEvent::NAMES)),
        "Which events to send, one POST each",
    )
    .default(Default::StrList(NotifyEvent::DEFAULT_NAMES))
    .non_empty(),
    FieldSpec::new(
        "format",
        FieldKind::Enum(NotifyFormat::NAMES),
        "The body: `json` (every fact), `slack` (`{\"text\": …}`) or `discord` (`{\"content\": …}`)",
    )
    .default(Default::Str("json")),
];

const WEBHOOK_FROM_ENV: &[FieldSpec] = &[
    FieldSpec::new("env", FieldKind::String, "The environment variable that holds the URL")
        .required()
        .pattern(ENV_NAME_PATTERN, ENV_NAME_RULE),
    FieldSpec::new("optional", FieldKind::Bool, "Send nothing when the variable is unset, instead of failing")
        .default(Default::Bool(false)),
];

const MOVED: &[FieldSpec] = &[
    FieldSpec::new("from", FieldKind::String, "The resource's old address, `TYPE.OLD`")
        .required()
        .pattern(ADDRESS_PATTERN, ADDRESS_RULE),
    FieldSpec::new("to", FieldKind::String, "Its new address, `TYPE.NEW`, which must be in the file")
        .required()
        .pattern(ADDRESS_PATTERN, ADDRESS_RULE),
];

const GUARDRAILS: &[FieldSpec] = &[FieldSpec::new(
    "allow",
    FieldKind::TableList(GUARDRAIL_ALLOW),
    "Findings to accept: `{ check = \"ID\", address = \"TYPE.NAME\", reason = \"…\" }`",
)
.default(Default::EmptyList)];

const GUARDRAIL_ALLOW: &[FieldSpec] = &[
    FieldSpec::new("check", FieldKind::Enum(crate::guardrails::CHECK_IDS), "The guardrail check's id").required(),
    FieldSpec::new("address", FieldKind::String, "The resource the finding is about, `TYPE.NAME`")
        .required()
        .pattern(ADDRESS_PATTERN, ADDRESS_RULE),
    FieldSpec::new("reason", FieldKind::String, "Why this finding is acceptable here; the plan prints it")
        .required()
        .non_empty(),
];

/// The section named `name`.
pub fn section(name: &str) -> Option<&'static FieldSpec> {
    SECTIONS.iter().find(|section| section.name == name)
}

/// The key every resource takes named `name`.
pub fn resource_key(name: &str) -> Option<&'static FieldSpec> {
    RESOURCE_KEYS.iter().find(|key| key.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_fields(fields: &'static [FieldSpec], found: &mut Vec<&'static FieldSpec>) {
        for field in fields {
            found.push(field);
            if let Some(nested) = field.kind.fields() {
                all_fields(nested, found);
            }
            if let FieldKind::OneOf(kinds) = &field.kind {
                for nested in kinds.iter().filter_map(FieldKind::fields) {
                    all_fields(nested, found);
                }
            }
        }
    }

    #[test]
    fn every_pattern_compiles_and_says_its_rule() {
        let mut fields = Vec::new();
        all_fields(SECTIONS, &mut fields);
        all_fields(RESOURCE_KEYS, &mut fields);
        for field in fields {
            if let Some(pattern) = field.pattern {
                assert!(regex_lite::Regex::new(pattern.regex).is_ok(), "{}: {}", field.name, pattern.regex);
                assert!(!pattern.rule.is_empty(), "{}", field.name);
            }
            assert!(!field.description.is_empty(), "{}", field.name);
        }
    }

    #[test]
    fn names_and_addresses_follow_their_rules() {
        let stack_name = regex_lite::Regex::new(STACK_NAME_PATTERN).unwrap();
        for (name, valid) in [("shop-dev", true), ("Shop", false), ("a-name-that-is-far-too-long-for-aws", false)] {
            assert_eq!(stack_name.is_match(name), valid, "{name}");
            assert_eq!(crate::stack::is_valid_stack_name(name), valid, "{name}");
        }
        let address = regex_lite::Regex::new(ADDRESS_PATTERN).unwrap();
        for (text, valid) in [("s3_bucket.site", true), ("bucket", false), ("s3_bucket.Site", false), (".site", false)]
        {
            assert_eq!(address.is_match(text), valid, "{text}");
            assert_eq!(text.parse::<crate::address::Address>().is_ok(), valid, "{text}");
        }
    }

    #[test]
    fn durations_and_s3_urls_follow_the_parsers() {
        let duration = regex_lite::Regex::new(DURATION_PATTERN).unwrap();
        for text in ["5m", "30s", "1h", "90", " 5m ", "5 minutes", "m", "1d", "-1s"] {
            assert_eq!(duration.is_match(text), crate::stack::parse_duration(text).is_ok(), "{text}");
        }
        let s3 = regex_lite::Regex::new(S3_PATTERN).unwrap();
        for text in
            ["s3://team-state/shop/prod.json", "s3://team-state", "s3://team-state/", "s3://Team/x.json", "s3://ab/x"]
        {
            assert_eq!(s3.is_match(text), crate::stack::parse_s3_url(text).is_ok(), "{text}");
        }
    }
}
