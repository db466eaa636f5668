//! `[network] vpc = "${vpc.NAME.id}"`: the stack lives in a network it makes itself.
//!
//! Everything a looked-up network would give comes from that resource instead, written here as a
//! plain reference: `${network.vpc_id}` becomes `${vpc.NAME.id}`, `${network.subnet_ids}` its
//! `private_subnet_ids`, `${network.public_subnet_ids}` its `public_subnet_ids`, and a field left
//! to a network default (a service's subnets, a security group's VPC, a load balancer's subnets by
//! its scheme) gets the reference it stands for. So the graph orders everything in the network
//! after it (and destroy before it), a plan resolves the values like any other reference, the
//! drivers' offline checks see where each resource runs, and nothing is looked up.

use super::*;
use crate::schema::Default;
use crate::stack::Output;

/// What each `${network.*}` stands for in the stack's own network.
const OWN_ATTRIBUTES: &[(&str, &str)] =
    &[("vpc_id", "id"), ("subnet_ids", "private_subnet_ids"), ("public_subnet_ids", "public_subnet_ids")];

const NOT_A_NETWORK_HINT: &str =
    "write `vpc = \"default\"`, a VPC id (`\"vpc-0123…\"`) or the stack's own network, e.g. `vpc = \"${vpc.main.id}\"`";

impl Loader<'_> {
    /// The resource `[network] vpc` names when it holds a reference: it must be exactly
    /// `${TYPE.NAME.id}` of a type that has subnets.
    pub(super) fn own_network_reference(&mut self, vpc: &SpannedExpr) -> Option<Address> {
        let Expr::Template(parts) = &vpc.expr else { return None };
        if let [Part::Literal(_)] = parts.as_slice() {
            return None;
        }
        if let [Part::Reference(Reference::Resource { address, attribute }, _)] = parts.as_slice() {
            let has_subnets = self.drivers.get(&address.type_name).is_some_and(|driver| {
                OWN_ATTRIBUTES.iter().all(|(_, attribute)| driver.schema().attributes.contains(attribute))
            });
            if attribute == "id" && has_subnets {
                return Some(address.clone());
            }
        }
        let written = self.source.get(vpc.span.clone()).unwrap_or_default().to_string();
        self.error(
            Diagnostic::error(format!("`[network] vpc = {written}` is not a network"), Some(vpc.span.clone()))
                .hint(NOT_A_NETWORK_HINT),
        );
        None
    }

    /// Rewrites the stack's `${network.*}` references and network defaults into references to the
    /// stack's own network, when it has one.
    pub(super) fn place_in_own_network(
        &mut self,
        network: &NetworkSpec,
        section: &SpannedExpr,
        resources: &mut BTreeMap<Address, ResourceSpec>,
        outputs: &mut [Output],
        variables: &BTreeMap<String, Value>,
    ) {
        let Some(own) = &network.own else { return };
        let fields = entries(section);
        let field_span = |name: &str| entry(fields, name).map(|value| value.span.clone());
        let span = field_span("vpc").unwrap_or_else(|| section.span.clone());
        if !resources.contains_key(own) {
            let known: Vec<String> =
                resources.keys().filter(|a| a.type_name == own.type_name).map(Address::to_string).collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            let diagnostic =
                Diagnostic::error(format!("`[network] vpc` names `{own}`, which is not in the stack"), Some(span))
                    .hint(format!("add `[{own}]` to the stack file"));
            self.error(with_suggestion(diagnostic, &own.to_string(), &known, "resources"));
            return;
        }
        if network.subnets.is_some() {
            self.error(
                Diagnostic::error(
                    "`[network] subnets` cannot be listed for the stack's own network",
                    Some(field_span("subnets").unwrap_or(span.clone())),
                )
                .hint(format!(
                    "remove `subnets`: resources go to `${{{own}.private_subnet_ids}}` (services, databases, caches, \
                     internal load balancers) or `${{{own}.public_subnet_ids}}` (internet-facing load balancers); \
                     set a resource's own `subnets` to place it elsewhere"
                )),
            );
        }
        let reference = |attribute: &str| Reference::Resource { address: own.clone(), attribute: attribute.into() };
        let rewrite = |found: &Reference| match found {
            Reference::Network(name) => {
                OWN_ATTRIBUTES.iter().find(|(n, _)| n == name).map(|(_, attribute)| reference(attribute))
            }
            _ => None,
        };
        for resource in resources.values_mut() {
            for expr in resource.fields.values_mut() {
                expr.replace_references(&rewrite);
            }
        }
        for output in outputs.iter_mut() {
            output.value.replace_references(&rewrite);
        }
        for resource in resources.values_mut() {
            let Some(driver) = self.drivers.get(&resource.address.type_name) else { continue };
            for spec in driver.schema().fields {
                if resource.fields.contains_key(spec.name) {
                    continue;
                }
                let attribute = match spec.default {
                    Default::NetworkVpcId => "id",
                    Default::NetworkSubnetIds => "private_subnet_ids",
                    Default::NetworkSubnetIdsUnless(flag) => {
                        match flag_value(driver.schema(), resource, flag, variables) {
                            Some(true) => "private_subnet_ids",
                            Some(false) => "public_subnet_ids",
                            None => {
                                let at =
                                    resource.fields.get(flag).map(|e| e.span.clone()).unwrap_or(resource.span.clone());
                                self.error(
                                    Diagnostic::error(
                                        format!(
                                        "`{}.{flag}` must be known from the stack file to choose the public or private \
                                         subnets of `{own}`",
                                        resource.address
                                    ),
                                        Some(at),
                                    )
                                    .hint(format!(
                                        "write `{flag} = true` or `false` (or a `${{var.NAME}}`), or set `{}` yourself",
                                        spec.name
                                    )),
                                );
                                continue;
                            }
                        }
                    }
                    _ => continue,
                };
                let part = Part::Reference(reference(attribute), span.clone());
                let expr = SpannedExpr { expr: Expr::Template(vec![part]), span: span.clone() };
                resource.fields.insert(spec.name.to_string(), expr);
            }
        }
    }
}

/// A boolean field as the stack file gives it (a literal or a variable), or its default.
fn flag_value(
    schema: &ResourceSchema,
    resource: &ResourceSpec,
    field: &str,
    variables: &BTreeMap<String, Value>,
) -> Option<bool> {
    let Some(expr) = resource.fields.get(field) else {
        return match schema.field(field).map(|spec| &spec.default) {
            Some(Default::Bool(value)) => Some(*value),
            _ => Some(false),
        };
    };
    let lookup = |reference: &Reference| match reference {
        Reference::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Unknown),
        _ => Value::Unknown,
    };
    match expr.resolve(&lookup) {
        Value::Bool(value) => Some(value),
        Value::Str(text) if text == "true" || text == "false" => Some(text == "true"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_drivers::load_text;
    use crate::stack::{Expr, Part, Reference};

    const OWN: &str = r#"
[stack]
name = "shop"

[network]
vpc = "${vpc.main.id}"

[vpc.main]

[load_balancer.public]

[load_balancer.inside]
internal = true

[ecs_service.api]
"#;

    fn reference_of(stack: &crate::stack::Stack, address: &str, field: &str) -> String {
        let resource = &stack.resources[&address.parse().unwrap()];
        match &resource.fields[field].expr {
            Expr::Template(parts) => match parts.as_slice() {
                [Part::Reference(reference @ Reference::Resource { .. }, _)] => reference.to_string(),
                other => panic!("not one reference: {other:?}"),
            },
            other => panic!("not a template: {other:?}"),
        }
    }

    #[test]
    fn everything_is_placed_in_the_own_network_by_role() {
        let stack = load_text(OWN, &[]).unwrap();
        assert_eq!(reference_of(&stack, "load_balancer.public", "subnets"), "vpc.main.public_subnet_ids");
        assert_eq!(reference_of(&stack, "load_balancer.inside", "subnets"), "vpc.main.private_subnet_ids");
        assert_eq!(reference_of(&stack, "ecs_service.api", "subnets"), "vpc.main.private_subnet_ids");
        assert_eq!(reference_of(&stack, "ecs_service.api", "vpc"), "vpc.main.id");
        assert!(!stack.uses_network, "nothing is looked up");
        let api = "ecs_service.api".parse().unwrap();
        assert!(stack.graph.dependencies(&api).any(|d| d.to_string() == "vpc.main"), "made after its network");
    }

    #[test]
    fn network_references_stand_for_the_own_network() {
        let text = OWN.replace(
            "[ecs_service.api]",
            "[ecs_service.api]\nsubnets = \"${network.public_subnet_ids}\"\nvpc = \"${network.vpc_id}\"",
        );
        let stack = load_text(&text, &[]).unwrap();
        assert_eq!(reference_of(&stack, "ecs_service.api", "subnets"), "vpc.main.public_subnet_ids");
        assert_eq!(reference_of(&stack, "ecs_service.api", "vpc"), "vpc.main.id");
    }

    #[test]
    fn a_scheme_from_a_variable_is_followed_and_an_unknown_one_is_an_error() {
        let text = OWN
            .replace("internal = true", "internal = \"${var.private}\"")
            .replace("[network]", "[variables]\nprivate = false\n\n[network]");
        let stack = load_text(&text, &[("private", "true")]).unwrap();
        assert_eq!(reference_of(&stack, "load_balancer.inside", "subnets"), "vpc.main.private_subnet_ids");
        let text = OWN.replace("internal = true", "internal = \"${ecs_service.api.arn}\"");
        let error = load_text(&text, &[]).unwrap_err();
        assert!(error.contains("`load_balancer.inside.internal` must be known from the stack file"), "{error}");
    }

    #[test]
    fn a_network_that_is_not_one_is_named() {
        let error = load_text(&OWN.replace("${vpc.main.id}", "${vpc.main.public_subnet_ids}"), &[]).unwrap_err();
        assert!(error.contains("is not a network") && error.contains("vpc = \"${vpc.main.id}\""), "{error}");
        let error = load_text(&OWN.replace("${vpc.main.id}", "${vpc.other.id}"), &[]).unwrap_err();
        assert!(error.contains("`[network] vpc` names `vpc.other`, which is not in the stack"), "{error}");
        let listed = OWN.replace("vpc = \"${vpc.main.id}\"", "vpc = \"${vpc.main.id}\"\nsubnets = [\"subnet-1\"]");
        let error = load_text(&listed, &[]).unwrap_err();
        assert!(error.contains("cannot be listed for the stack's own network"), "{error}");
    }

    #[test]
    fn the_default_vpc_gives_tasks_a_public_ip() {
        let default = load_text("[stack]\nname = \"shop\"\n[ecs_service.api]\n", &[]).unwrap();
        assert!(default.network.is_default_vpc() && default.uses_network);
        let own = load_text(OWN, &[]).unwrap();
        assert!(!own.network.is_default_vpc());
    }
}
