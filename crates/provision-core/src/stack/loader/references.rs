//! References: every `${...}` must name something that exists, and the graph they make must have no cycle.

use super::*;
use crate::stack::Output;

impl Loader<'_> {
    pub(super) fn check_references(
        &mut self,
        resources: &BTreeMap<Address, ResourceSpec>,
        outputs: &[Output],
        variables: &BTreeMap<String, Value>,
    ) {
        let mut exprs: Vec<&SpannedExpr> = resources.values().flat_map(|r| r.fields.values()).collect();
        exprs.extend(outputs.iter().map(|o| &o.value));
        for expr in exprs {
            for (reference, span) in expr.references() {
                if let Some(diagnostic) = check_reference(self.drivers, reference, span, resources, variables) {
                    self.error(diagnostic);
                }
            }
        }
        for resource in resources.values() {
            for dependency in &resource.depends_on {
                if !resources.contains_key(dependency) {
                    let known: Vec<String> = resources.keys().map(Address::to_string).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    let diagnostic = Diagnostic::error(
                        format!("`{}` depends on `{dependency}`, which is not in the stack", resource.address),
                        Some(resource.span.clone()),
                    );
                    self.error(with_suggestion(diagnostic, &dependency.to_string(), &known, "resources"));
                }
            }
        }
    }

    pub(super) fn graph(&mut self, resources: &BTreeMap<Address, ResourceSpec>) -> Option<DependencyGraph> {
        let mut graph = DependencyGraph::default();
        let mut edge_spans: BTreeMap<(Address, Address), Range<usize>> = BTreeMap::new();
        for resource in resources.values() {
            graph.add_node(resource.address.clone());
            for expr in resource.fields.values() {
                for (reference, span) in expr.references() {
                    if let Reference::Resource { address, .. } = reference {
                        if resources.contains_key(address) {
                            graph.add_edge(resource.address.clone(), address.clone());
                            edge_spans
                                .entry((resource.address.clone(), address.clone()))
                                .or_insert_with(|| span.clone());
                        }
                    }
                }
            }
            let implicit = self
                .drivers
                .get(&resource.address.type_name)
                .map(|driver| driver.implicit_dependencies(resource, resources))
                .unwrap_or_default();
            for dependency in resource.depends_on.iter().chain(&implicit).filter(|d| resources.contains_key(*d)) {
                graph.add_edge(resource.address.clone(), dependency.clone());
                edge_spans
                    .entry((resource.address.clone(), dependency.clone()))
                    .or_insert_with(|| resource.span.clone());
            }
        }
        if let Some(cycle) = graph.find_cycle() {
            let path: Vec<String> = cycle.iter().map(Address::to_string).collect();
            let span = edge_spans.get(&(cycle[0].clone(), cycle[1].clone())).cloned();
            self.error(
                Diagnostic::error(format!("dependency cycle: {}", path.join(" -> ")), span)
                    .label("this reference closes the cycle")
                    .hint("remove one of these references or `depends_on` entries"),
            );
            return None;
        }
        Some(graph)
    }
}

fn check_reference(
    drivers: &DriverRegistry,
    reference: &Reference,
    span: &Range<usize>,
    resources: &BTreeMap<Address, ResourceSpec>,
    variables: &BTreeMap<String, Value>,
) -> Option<Diagnostic> {
    let error = |message: String| Diagnostic::error(message, Some(span.clone()));
    match reference {
        Reference::Resource { address, attribute } => {
            let Some(driver) = drivers.get(&address.type_name) else {
                return Some(with_suggestion(
                    error(format!("unknown resource type `{}` in `${{{reference}}}`", address.type_name)),
                    &address.type_name,
                    &drivers.type_names(),
                    "resource types",
                ));
            };
            if !resources.contains_key(address) {
                let known: Vec<String> =
                    resources.keys().filter(|a| a.type_name == address.type_name).map(Address::to_string).collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                return Some(with_suggestion(
                    error(format!("unknown resource `{address}` in `${{{reference}}}`")),
                    &address.to_string(),
                    &known,
                    "resources",
                ));
            }
            let attributes = driver.schema().attributes;
            if !attributes.contains(&attribute.as_str()) {
                return Some(error(format!("`{}` has no attribute `{attribute}`", address.type_name)).hint(format!(
                    "`{}` has: {}",
                    address.type_name,
                    attributes.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                )));
            }
            None
        }
        Reference::Variable(name) if !variables.contains_key(name) => {
            let known: Vec<&str> = variables.keys().map(String::as_str).collect();
            Some(with_suggestion(
                error(format!("unknown variable `{name}`"))
                    .hint(format!("declare it in `[variables]`: `{name} = \"…\"`")),
                name,
                &known,
                "variables",
            ))
        }
        Reference::Network(name) if !NETWORK_ATTRIBUTES.contains(&name.as_str()) => Some(
            error(format!("`network` has no attribute `{name}`"))
                .hint("use `${network.vpc_id}`, `${network.subnet_ids}` or `${network.public_subnet_ids}`"),
        ),
        Reference::Stack(name) if !STACK_ATTRIBUTES.contains(&name.as_str()) => {
            Some(error(format!("`stack` has no attribute `{name}`")).hint("use `${stack.name}` or `${stack.region}`"))
        }
        _ => None,
    }
}

/// Adds the schema's hidden derived inputs (see [`crate::schema::DerivedField`]).

pub(super) fn add_derived_fields(drivers: &DriverRegistry, resource: &mut ResourceSpec) {
    let Some(driver) = drivers.get(&resource.address.type_name) else { return };
    for derived in driver.schema().derived {
        let Some(SpannedExpr { expr: Expr::Template(parts), span }) = resource.fields.get(derived.from_field) else {
            continue;
        };
        let [Part::Reference(Reference::Resource { address, .. }, reference_span)] = parts.as_slice() else { continue };
        let follows = drivers
            .get(&address.type_name)
            .is_some_and(|target| target.schema().attributes.contains(&derived.attribute));
        if follows {
            let reference = Reference::Resource { address: address.clone(), attribute: derived.attribute.to_string() };
            let expr = SpannedExpr {
                expr: Expr::Template(vec![Part::Reference(reference, reference_span.clone())]),
                span: span.clone(),
            };
            resource.fields.insert(derived.name.to_string(), expr);
        }
    }
}
