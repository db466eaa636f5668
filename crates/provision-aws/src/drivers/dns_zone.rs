//! `dns_zone`: an existing Route 53 hosted zone, looked up by name, never created or deleted.
//!
//! A hosted zone is where a domain's records live, and making one is not a deployment step: a new
//! zone gets new name servers that the domain's registrar must be told about, and deleting one
//! takes every record in it (mail, other sites) with it. So the zone is something the stack uses,
//! like the `[network]` VPC: a "create" looks it up by name and records its id, a "delete" only
//! forgets it, and nothing here ever writes to it. Records and certificates take its `id`.
//!
//! A zone is not tagged (it is not the stack's), so `state orphans` and `destroy --sweep` never
//! see one.

use async_trait::async_trait;
use aws_sdk_route53::types::HostedZone;
use serde_json::Value as Json;

use super::route53::{bare_zone_id, check_domain_name, normalise_name, zone_gone};
use super::*;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};

pub struct ZoneDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "dns_zone",
    description: "An existing Route 53 hosted zone, looked up by name. provision never creates, changes or \
                  deletes the zone itself; destroying the stack only forgets it.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The zone's domain name, e.g. `\"example.com\"`")
            .required()
            .forces_replacement()
            .check(check_domain_name),
        FieldSpec::new(
            "private",
            FieldKind::Bool,
            "Look up the private zone of that name (one associated with VPCs) instead of the public one",
        )
        .default(FieldDefault::Bool(false))
        .forces_replacement(),
    ],
    attributes: &["id", "name"],
    taggable: false,
    derived: &[],
    create_before_destroy: false,
};

fn wanted(inputs: &JsonMap) -> (String, bool) {
    let name = inputs.get("name").and_then(Json::as_str).map(normalise_name).unwrap_or_default();
    let private = inputs.get("private").and_then(Json::as_bool).unwrap_or(false);
    (name, private)
}

fn observed(zone: &HostedZone) -> Observed {
    let id = bare_zone_id(zone.id()).to_string();
    let name = normalise_name(zone.name());
    let private = zone.config().is_some_and(|config| config.private_zone());
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), name.clone().into());
    inputs.insert("private".into(), private.into());
    let mut attributes = JsonMap::new();
    attributes.insert("id".into(), id.clone().into());
    attributes.insert("name".into(), name.into());
    Observed { id, inputs, attributes }
}

/// The zones named `name` (public or private as asked). `ListHostedZonesByName` lists zones in name
/// order starting at `name`, so the first page holds every zone of that name.
pub(crate) async fn look_up(aws: &AwsContext, name: &str, private: bool) -> Result<Vec<HostedZone>, DriverError> {
    let answer = aws
        .route53()
        .list_hosted_zones_by_name()
        .dns_name(name)
        .max_items(100)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListHostedZonesByName", error))?;
    Ok(answer
        .hosted_zones()
        .iter()
        .filter(|zone| normalise_name(zone.name()) == name)
        .filter(|zone| zone.config().is_some_and(|config| config.private_zone()) == private)
        .cloned()
        .collect())
}

/// The id of the public zone that answers for `domain`: the zone named like it or like the nearest
/// of its parents (`api.shop.example.com` → `shop.example.com` or `example.com`), if there is one.
pub(crate) async fn answering_for(aws: &AwsContext, domain: &str) -> Result<Option<String>, DriverError> {
    let domain = normalise_name(domain);
    let labels: Vec<&str> = domain.trim_start_matches("*.").split('.').collect();
    for start in 0..labels.len().saturating_sub(1) {
        let candidate = labels[start..].join(".");
        if let Some(zone) = look_up(aws, &candidate, false).await?.first() {
            return Ok(Some(bare_zone_id(zone.id()).to_string()));
        }
    }
    Ok(None)
}

fn missing_zone(name: &str, private: bool) -> DriverError {
    let kind = if private { "private" } else { "public" };
    DriverError::invalid(format!("there is no {kind} Route 53 hosted zone `{name}` in this account")).with_hint(
        format!(
            "provision uses an existing zone and never creates one (a new zone has new name servers that the \
         domain's registrar must be given): create it with `aws route53 create-hosted-zone --name {name} \
         --caller-reference $(date +%s)`, point the domain at its name servers, then apply again"
        ),
    )
}

#[async_trait]
impl AwsDriver for ZoneDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if let Some(name) = inputs.get("name").and_then(Json::as_str).map(normalise_name) {
            inputs.insert("name".into(), name.into());
        }
        Ok(())
    }

    fn plan_notes(&self, action: provision_core::plan::Action, _inputs: &JsonMap, _changed: &[&str]) -> Vec<String> {
        use provision_core::plan::Action;
        match action {
            Action::Create => vec!["looks up the existing hosted zone; nothing is created".into()],
            Action::Delete | Action::Replace => {
                vec!["the hosted zone itself is kept: provision only forgets it".into()]
            }
            Action::Update => Vec::new(),
        }
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        let (name, _) = wanted(inputs);
        if !name.is_empty() {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let id = bare_zone_id(id.rsplit_once(":hostedzone/").map_or(id, |(_, id)| id));
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err(DriverError::invalid(format!("`{id}` is not a Route 53 hosted zone id"))
                .with_hint("import a zone by its id, e.g. `Z0123456789ABCDEFGHIJ` (`aws route53 list-hosted-zones`)"));
        }
        Ok(id.to_string())
    }

    /// Zones are not the stack's: nothing found by its tags is ever a `dns_zone`.
    fn id_from_arn(&self, _arn: &str) -> Option<String> {
        None
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        wanted(request.inputs).0
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        // All zones at once (within Route 53's limit), not one after another.
        let reads: Vec<_> = resources
            .iter()
            .map(|resource| {
                move || async move {
                    let answer = aws.route53().get_hosted_zone().id(bare_zone_id(resource.id)).send().await;
                    match answer.map_err(|error| crate::aws_error("GetHostedZone", error)) {
                        Ok(answer) => Ok(answer.hosted_zone().map(observed)),
                        Err(error) if zone_gone(&error) => Ok(None),
                        Err(error) => Err(error),
                    }
                }
            })
            .collect();
        aws.limiter(crate::Service::Route53).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let (name, private) = wanted(request.inputs);
        let zones = look_up(aws, &name, private).await?;
        match zones.as_slice() {
            [] => Err(missing_zone(&name, private)),
            [zone] => Ok(observed(zone)),
            several => {
                let ids: Vec<&str> = several.iter().map(|zone| bare_zone_id(zone.id())).collect();
                Err(DriverError::invalid(format!(
                    "there are {} hosted zones named `{name}`: {}",
                    ids.len(),
                    ids.join(", ")
                ))
                .with_hint(format!("adopt the one the domain uses: `provision import {} ZONE_ID`", request.address)))
            }
        }
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        _request: &ResourceRequest<'_>,
        _changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        // Every field forces a replacement (a look-up of another zone); there is nothing to change.
        let read = self.read(aws, &placeholder_stack(), std::slice::from_ref(prior)).await;
        match read.into_iter().next() {
            Some(Ok(Some(observed))) => Ok(observed),
            Some(Err(error)) => Err(error),
            _ => Err(DriverError::invalid(format!("hosted zone `{}` no longer exists", prior.id))),
        }
    }

    async fn delete(
        &self,
        _aws: &AwsContext,
        _resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        // Forgetting is all: the zone holds records other tools and people rely on.
        Ok(())
    }

    async fn find_interrupted(
        &self,
        _aws: &AwsContext,
        _stack: &StackInfo,
        _address: &Address,
        _intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        // A look-up makes nothing; the next apply looks the zone up again.
        Ok(None)
    }
}

/// `read` does not use the stack; an update has none at hand.
fn placeholder_stack() -> StackInfo {
    StackInfo { name: String::new(), region: String::new(), directory: ".".into(), lineage: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::types::HostedZoneConfig;

    #[test]
    fn zones_read_back_in_the_stack_file_spelling() {
        let zone = HostedZone::builder()
            .id("/hostedzone/Z0ABC")
            .name("Example.com.")
            .caller_reference("r")
            .config(HostedZoneConfig::builder().private_zone(false).build())
            .build()
            .unwrap();
        let observed = observed(&zone);
        assert_eq!(observed.id, "Z0ABC");
        assert_eq!(Json::Object(observed.attributes), serde_json::json!({ "id": "Z0ABC", "name": "example.com" }));
        assert_eq!(Json::Object(observed.inputs), serde_json::json!({ "name": "example.com", "private": false }));
    }

    #[test]
    fn a_missing_zone_says_how_to_make_one() {
        let error = missing_zone("example.com", false);
        assert!(error.message.contains("no public Route 53 hosted zone `example.com`"));
        assert!(error.hint.unwrap().contains("aws route53 create-hosted-zone --name example.com"));
    }

    #[test]
    fn the_name_is_normalised_and_checked() {
        let mut inputs = serde_json::json!({ "name": "Example.COM." }).as_object().cloned().unwrap();
        ZoneDriver.prepare(&placeholder_stack(), &mut inputs).unwrap();
        assert_eq!(inputs["name"], "example.com");
        let check = SCHEMA.field("name").and_then(|field| field.check).unwrap();
        assert!(check("not a domain").is_err());
        assert!(!SCHEMA.taggable, "a zone is not the stack's to tag");
    }
}
