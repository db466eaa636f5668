//! `vpc`: a network the stack owns — the VPC, an internet gateway, a public and a private subnet
//! in each of `azs` availability zones, their route tables, NAT gateways with their Elastic IP
//! addresses (`nat = "single" | "per_az" | "none"`), and endpoints (the free S3 gateway endpoint;
//! on request the interface endpoints that let private tasks pull images and write logs without a
//! NAT gateway).
//!
//! It is one resource of the stack file, made of many AWS objects. The state holds the VPC id;
//! every other part carries the VPC's id and its role in tags given in the call that makes it
//! (`layout.rs`), so a refresh finds all parts in nine calls and a killed run's parts are found and
//! completed (`survey.rs` lists what is missing as the hidden input `repairs`; `converge.rs` makes
//! it). The VPC itself is found after a kill by the token its intent recorded (`provision:token`).
//!
//! Changing `azs`, `nat` or `endpoints` changes the parts in place; only `cidr` forces a new VPC.
//! Deleting takes the parts apart in the order AWS needs (`teardown.rs`).

mod config;
mod converge;
mod emulator;
mod endpoints;
mod layout;
mod lifecycle;
mod observation;
mod retag;
mod survey;
mod teardown;
mod tokenless;
pub(crate) mod zones;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use serde_json::Value as Json;

use self::config::{VpcConfig, ENDPOINT_NAMES, MAX_AZS, MIN_AZS, NAT_OPTIONS};
use self::converge::Work;
use self::layout::{Layout, TOKEN_TAG};
use self::observation::REPAIRS;
use super::tags::removed_tags;
use super::*;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};

pub(crate) use self::config::endpoint_kind;

pub struct VpcDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "vpc",
    description: "A network the stack owns: a VPC with a public and a private subnet in each availability zone, an \
                  internet gateway, NAT gateways and endpoints. `[network] vpc = \"${vpc.NAME.id}\"` puts the stack in it.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The VPC's `Name` tag; its parts are named after it")
            .default(FieldDefault::AwsName { max_len: 200 }),
        FieldSpec::new("cidr", FieldKind::String, "The VPC's address range, a `/16` to a `/24`; each subnet takes a sixteenth")
            .default(FieldDefault::Str("10.0.0.0/16"))
            .forces_replacement()
            .check(check_cidr)
            .pattern(CIDR_PATTERN, "an IPv4 range from a `/16` to a `/24`, e.g. `10.0.0.0/16`"),
        FieldSpec::new("azs", FieldKind::Int, "How many availability zones (2 to 6), chosen where Fargate runs")
            .default(FieldDefault::Int(2))
            .range(MIN_AZS, MAX_AZS),
        FieldSpec::new(
            "nat",
            FieldKind::Enum(NAT_OPTIONS),
            "How private subnets reach the internet: one NAT gateway for all zones (`\"single\"`), one per zone \
             (`\"per_az\"`, survives a zone's outage), or none (`\"none\"`: give the VPC interface endpoints instead)",
        )
        .default(FieldDefault::Str("single")),
        FieldSpec::new(
            "endpoints",
            FieldKind::List(&FieldKind::Enum(ENDPOINT_NAMES)),
            "VPC endpoints: `\"s3\"` and `\"dynamodb\"` (gateways, free), `\"ecr\"`, `\"logs\"`, `\"secretsmanager\"`, \
             `\"ssm\"`, `\"sts\"`, `\"kms\"` (interface endpoints in every private subnet, charged by the hour)",
        )
        .default(FieldDefault::StrList(&["s3"])),
    ],
    attributes: &["id", "cidr", "public_subnet_ids", "private_subnet_ids", "availability_zones"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// `a.b.c.d/16` to `/24`; `check_cidr` also refuses host bits.
const CIDR_PATTERN: &str = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/(1[6-9]|2[0-4])$";

fn check_cidr(cidr: &str) -> Result<(), String> {
    config::parse_range(cidr).map(|_| ())
}

/// Whether `cidr` is a range the type holds (a `/16` to a `/24`, no host bits), and why not: for
/// judging offline whether an existing network fits the type (moving in).
pub fn check_range(cidr: &str) -> Result<(), String> {
    check_cidr(cidr)
}

/// The endpoint the type makes for an AWS service (`com.amazonaws.REGION.ecr.dkr` or `ecr.dkr`):
/// its name in `endpoints`, every service that name stands for, and whether it is a gateway
/// endpoint. `None` for a service the type makes no endpoint for.
pub fn endpoint_for_service(service: &str) -> Option<(&'static str, &'static [&'static str], bool)> {
    let short = crate::network::short_service_name(service);
    config::ENDPOINTS
        .iter()
        .find(|kind| kind.services.contains(&short.as_str()))
        .map(|kind| (kind.name, kind.services, kind.gateway))
}

fn text<'a>(inputs: &'a JsonMap, field: &str) -> &'a str {
    inputs.get(field).and_then(Json::as_str).unwrap_or_default()
}

/// The inputs as last applied, or `None` when there are none to go by (`import --generate`, which
/// names every field with `null` for "unknown").
fn recorded(inputs: &JsonMap) -> Option<VpcConfig> {
    inputs.get("azs").is_some_and(|azs| !azs.is_null()).then(|| VpcConfig::from_inputs(inputs).ok()).flatten()
}

#[async_trait]
impl AwsDriver for VpcDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn check(&self, inputs: &BTreeMap<String, provision_core::value::Value>) -> Vec<Problem> {
        config::check(inputs)
    }

    /// AWS: a NAT gateway is `pending` ~2 min before the private routes can point at it, and
    /// `deleting` ~1 min before its address and subnet can go (`ec2.nat-gateway-lifecycle`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(120, 120, 60)
    }

    /// Endpoints are a set (sorted as the read-back sorts them); nothing is wanted repaired.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if let Some(Json::Array(items)) = inputs.get_mut("endpoints") {
            items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            items.dedup();
        }
        inputs.insert(REPAIRS.into(), Json::Array(Vec::new()));
        Ok(())
    }

    fn plan_notes(&self, action: Action, _inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        let mut notes = Vec::new();
        if action == Action::Replace {
            notes.push(
                "a new VPC: everything in the network (security groups, load balancers, services, databases) moves to \
                 it, and the old one can only go once they have"
                    .into(),
            );
        }
        if action == Action::Update && changed.contains(&REPAIRS) {
            notes.push("makes the parts of the network that are missing and removes the ones no longer wanted (`provision drift` lists them)".into());
        }
        if action == Action::Update && changed.contains(&"nat") {
            notes.push("the private subnets' internet traffic moves to the new NAT gateway(s); connections open through a removed one are cut".into());
        }
        notes
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(cidr) = inputs.get("cidr").filter(|c| c.is_string()) {
            attributes.insert("cidr".into(), cidr.clone());
        }
        attributes
    }

    /// A change of zones, or a repair (a create killed before it made every subnet, a subnet deleted
    /// by hand), gives the subnet lists new values: what is placed in them waits for the apply.
    fn attributes_changed_by(&self, fields: &[&str]) -> Vec<&'static str> {
        if fields.contains(&"azs") || fields.contains(&REPAIRS) {
            vec!["public_subnet_ids", "private_subnet_ids", "availability_zones"]
        } else {
            Vec::new()
        }
    }

    /// A token, tagged on the VPC by the create call, by which an interrupted create finds it.
    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        match request.intent {
            Some(token) if token.starts_with("token:") => token.to_string(),
            _ => format!("token:{}", uuid::Uuid::new_v4().simple()),
        }
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let id = id.rsplit(":vpc/").next().unwrap_or(id);
        if !id.starts_with("vpc-") {
            return Err(DriverError::invalid(format!("`{id}` is not a VPC id"))
                .with_hint("import a VPC by its id, e.g. `vpc-0123456789abcdef0`; its subnets, gateways and endpoints come with it"));
        }
        Ok(id.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.split_once(":vpc/").map(|(_, id)| id.to_string())
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let ids: Vec<&str> = resources.iter().map(|r| r.id).filter(|id| id.starts_with("vpc-")).collect();
        if ids.is_empty() {
            return resources.iter().map(|_| Ok(None)).collect();
        }
        let found = match observation::find(aws.ec2(), &ids).await {
            Ok(found) => found,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        resources
            .iter()
            .map(|resource| {
                let Some(found) = found.get(resource.id).filter(|f| f.vpc.is_some()) else { return Ok(None) };
                let layout = Layout::classify(resource.id, found);
                Ok(Some(observation::observe(&layout, recorded(resource.inputs).as_ref())))
            })
            .collect()
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = VpcConfig::from_inputs(request.inputs)?;
        let token = request.intent.map(str::to_string).unwrap_or_else(|| self.intended_id(request));
        let work = work(aws, request, progress, &config);
        let layout = converge::create(&work, &config, &token).await?;
        Ok(Observed { id: layout.vpc_id.clone(), inputs: JsonMap::new(), attributes: observation::attributes(&layout) })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = VpcConfig::from_inputs(request.inputs)?;
        let work = work(aws, request, progress, &config);
        let mut layout = observation::layout(aws.ec2(), prior.id).await?.ok_or_else(|| {
            DriverError::invalid(format!("VPC {} no longer exists", prior.id))
                .with_hint("run `provision apply` again to make it anew")
        })?;
        converge::converge(&work, &config, &mut layout).await?;
        let changed = |field: &str| changes.iter().any(|c| c.path == field);
        if changed("tags") || changed("name") {
            retag::retag(&work, &layout, &removed_tags(prior.inputs, request.tags)).await?;
        }
        Ok(Observed { id: prior.id.to_string(), inputs: JsonMap::new(), attributes: observation::attributes(&layout) })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        if !resource.id.starts_with("vpc-") {
            return Ok(());
        }
        teardown::delete(aws.ec2(), resource.address, progress, resource.id).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let tag = |key: &str, value: &str| Filter::builder().name(format!("tag:{key}")).values(value).build();
        let answer = aws
            .ec2()
            .describe_vpcs()
            .filters(tag(TOKEN_TAG, intended_id))
            .filters(tag("provision:stack", &stack.name))
            .send()
            .await
            .map_err(|error| crate::aws_error("DescribeVpcs", error))?;
        Ok(answer.vpcs().first().and_then(|vpc| vpc.vpc_id()).map(str::to_string))
    }

    /// An internet gateway or an Elastic IP address made for a VPC that is gone (a create killed
    /// right after making them, whose VPC a later run never found, or a destroy killed after the
    /// VPC went): nothing else finds them, so they are listed here.
    async fn leftovers(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        recorded: &[ExistingResource<'_>],
        tagged: &[TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        let recorded: Vec<&str> = recorded.iter().map(|r| r.id).collect();
        let mut candidates: Vec<(&TaggedResource, String)> = Vec::new();
        for resource in tagged {
            let Some(vpc) = resource.tags.get(layout::VPC_TAG) else { continue };
            let standalone = resource.arn.contains(":internet-gateway/") || resource.arn.contains(":elastic-ip/");
            if standalone && !recorded.contains(&vpc.as_str()) {
                candidates.push((resource, vpc.clone()));
            }
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let vpcs: Vec<&str> = candidates.iter().map(|(_, vpc)| vpc.as_str()).collect();
        let existing = observation::find(aws.ec2(), &vpcs).await?;
        let mut leftovers = Vec::new();
        for (resource, vpc) in candidates {
            if existing.get(&vpc).is_some_and(|f| f.vpc.is_some()) {
                continue;
            }
            let (kind, id) = match resource.arn.rsplit_once('/') {
                Some((_, id)) if resource.arn.contains(":internet-gateway/") => ("internet gateway", id),
                Some((_, id)) => ("Elastic IP address", id),
                None => continue,
            };
            let owner = resource.tags.get("provision:address").and_then(|a| a.parse::<Address>().ok());
            leftovers.push(Leftover { kind: kind.into(), id: id.to_string(), owner });
        }
        Ok(leftovers)
    }

    async fn delete_leftover(&self, aws: &AwsContext, leftover: &Leftover) -> Result<(), DriverError> {
        let ec2 = aws.ec2();
        let result = if leftover.id.starts_with("igw-") {
            ec2.delete_internet_gateway()
                .internet_gateway_id(&leftover.id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| crate::aws_error("DeleteInternetGateway", e))
        } else {
            ec2.release_address()
                .allocation_id(&leftover.id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| crate::aws_error("ReleaseAddress", e))
        };
        match result {
            Err(error) if error.code.as_deref().is_some_and(|c| c.contains("NotFound")) => Ok(()),
            other => other,
        }
    }
}

fn work<'a>(
    aws: &'a AwsContext,
    request: &'a ResourceRequest<'_>,
    progress: &'a dyn ProgressSink,
    config: &'a VpcConfig,
) -> Work<'a> {
    Work {
        ec2: aws.ec2(),
        address: request.address,
        region: aws.region(),
        progress,
        name: if config.name.is_empty() { text(request.inputs, "name") } else { &config.name },
        tags: request.tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schema_defaults_match_the_contract() {
        let field = |name: &str| SCHEMA.field(name).expect("a field");
        assert!(matches!(field("cidr").default, FieldDefault::Str("10.0.0.0/16")));
        assert!(matches!(field("azs").default, FieldDefault::Int(2)));
        assert!(matches!(field("nat").default, FieldDefault::Str("single")));
        assert!(matches!(field("endpoints").default, FieldDefault::StrList(&["s3"])));
        assert!(field("cidr").forces_replacement, "AWS cannot change a VPC's primary range");
        assert!(!field("azs").forces_replacement && !field("nat").forces_replacement, "changed in place");
    }

    #[test]
    fn prepare_sorts_the_endpoints_and_wants_nothing_repaired() {
        let mut inputs = json!({ "endpoints": ["s3", "ecr", "s3"] }).as_object().cloned().unwrap();
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        VpcDriver.prepare(&stack, &mut inputs).unwrap();
        assert_eq!(inputs["endpoints"], json!(["ecr", "s3"]));
        assert_eq!(inputs[REPAIRS], json!([]));
    }

    #[test]
    fn an_interrupted_create_keeps_its_token() {
        let address = Address::new("vpc", "main");
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let (inputs, tags, secrets) = (JsonMap::new(), BTreeMap::new(), BTreeMap::new());
        let fresh = ResourceRequest::new(&address, &stack, &inputs, &tags, &secrets);
        let token = VpcDriver.intended_id(&fresh);
        assert!(token.starts_with("token:"));
        let again = ResourceRequest { intent: Some(&token), ..fresh };
        assert_eq!(VpcDriver.intended_id(&again), token);
    }
}
