//! `ecr_repository`: a private container image repository, with scanning, tag immutability and
//! an optional lifecycle policy that keeps only the newest images.
//!
//! A refresh describes all repositories in one `DescribeRepositories` (up to 100 names); tags and
//! the lifecycle policy are separate ECR APIs, so each repository adds `ListTagsForResource`, and
//! `GetLifecyclePolicy` only when the stack manages one.
//!
//! Deleting keeps a repository that still holds images unless `force_destroy` says otherwise:
//! images pushed by a CI pipeline exist nowhere else.

mod lifecycle_policy;
mod repository_api;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecr::types::Repository;
use aws_sdk_ecr::Client;
use serde::Deserialize;
use serde_json::Value as Json;

use self::repository_api::Settings;
use crate::behaviours::adopt;
use crate::context::AwsContext;
use crate::drivers::tags::{removed_tags, user_tags};
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, Problem, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

pub struct RepositoryDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "ecr_repository",
    description: "A private ECR repository for container images.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The repository name, e.g. `\"shop/api\"`")
            .default(schema::Default::AwsName { max_len: 256 })
            .forces_replacement()
            .check(check_name),
        FieldSpec::new("scan_on_push", FieldKind::Bool, "Scan every pushed image for known vulnerabilities")
            .default(schema::Default::Bool(true)),
        FieldSpec::new("immutable_tags", FieldKind::Bool, "Refuse to push an image under a tag that already exists")
            .default(schema::Default::Bool(false)),
        FieldSpec::new("keep_images", FieldKind::Int, "Keep only the newest N images; older ones expire"),
        FieldSpec::new("force_destroy", FieldKind::Bool, "On destroy, also delete the images the repository holds")
            .default(schema::Default::Bool(false)),
    ],
    attributes: &["name", "arn", "url"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// ECR's naming rules: lowercase path segments separated by `/`, each made of letters and digits
/// joined by single `.`, `_` or `-`.
fn check_name(name: &str) -> Result<(), String> {
    let separator = |c: char| matches!(c, '.' | '_' | '-');
    let word = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment.starts_with(word)
            && segment.ends_with(word)
            && segment.chars().all(|c| word(c) || separator(c))
            && !segment.as_bytes().windows(2).any(|pair| separator(pair[0] as char) && separator(pair[1] as char))
    };
    let problem = if !(2..=256).contains(&name.len()) {
        Some("must be 2 to 256 characters long")
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        Some("must be lowercase")
    } else if !name.split('/').all(segment_ok) {
        Some(
            "may contain only lowercase letters and digits, joined by single `.`, `_` or `-`, in parts separated \
             by `/`",
        )
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("repository name `{name}` {problem} (ECR naming rules)")),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct RepositoryConfig {
    name: String,
    #[serde(default = "enabled")]
    scan_on_push: bool,
    #[serde(default)]
    immutable_tags: bool,
    #[serde(default)]
    keep_images: Option<i64>,
    #[serde(default)]
    force_destroy: bool,
}

fn enabled() -> bool {
    true
}

impl RepositoryConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<RepositoryConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `ecr_repository` inputs: {error}")))
    }

    fn settings(&self) -> Settings {
        Settings { scan_on_push: self.scan_on_push, immutable_tags: self.immutable_tags }
    }
}

#[async_trait]
impl AwsDriver for RepositoryDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        match inputs.get("keep_images") {
            Some(Value::Int(count)) if *count < 1 => vec![Problem::error(
                "keep_images",
                format!("`keep_images = {count}` would keep no image; it must be at least 1"),
            )
            .hint("leave `keep_images` out to keep every image")],
            _ => Vec::new(),
        }
    }

    /// The URL needs the account id, which is only known online.
    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let name = id.rsplit(":repository/").next().unwrap_or(id);
        if name.is_empty() || name.chars().any(|c| c.is_ascii_uppercase() || c.is_whitespace()) {
            return Err(DriverError::invalid(format!("`{id}` is not an ECR repository name"))
                .with_hint("import a repository by its name, e.g. `shop/api`"));
        }
        Ok(name.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.split_once(":repository/").map(|(_, name)| name.to_string())
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.is_empty() {
            return Vec::new();
        }
        let ecr = aws.ecr();
        let limiter = aws.limiter(crate::Service::Ecr);
        let names: Vec<&str> = resources.iter().map(|resource| resource.id).collect();
        let listing = async {
            match repository_api::describe(ecr, &names).await {
                Ok(mut repositories) => names.iter().map(|name| Ok(repositories.remove(*name))).collect(),
                // ECR refuses the whole batch when one name is missing, without saying which.
                Err(error) if repository_api::is_missing(&error) => {
                    let reads: Vec<_> =
                        names.iter().map(|name| move || repository_api::describe_one(ecr, name)).collect();
                    limiter.all(reads).await
                }
                Err(error) => resources.iter().map(|_| Err(error.clone())).collect::<Vec<_>>(),
            }
        };
        // The tags (and the lifecycle policy) are read alongside the description, by the ARN and
        // name the state recorded, not after it.
        let early = resources
            .iter()
            .map(|resource| recorded_arn(resource).map(|arn| move || read_extras(ecr, resource, resource.id, arn)));
        let (found, early) = limiter.alongside(listing, early).await;
        let reads: Vec<_> = resources
            .iter()
            .zip(found)
            .zip(early)
            .map(|((resource, found), extras)| {
                // An early answer counts for the repository described under the same ARN.
                let listed_arn = found.as_ref().ok().and_then(Option::as_ref).and_then(Repository::repository_arn);
                let extras = extras
                    .and_then(Result::ok)
                    .filter(|_| listed_arn.is_some() && listed_arn == recorded_arn(resource));
                move || observe(ecr, resource, found, extras)
            })
            .collect();
        limiter.all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = RepositoryConfig::from_inputs(request.inputs)?;
        let ecr = aws.ecr();
        let repository = match repository_api::create(ecr, &config.name, &config.settings(), request.tags).await {
            Ok(repository) => repository,
            // The SDK's retry of a create whose answer was lost meets the repository it made
            // (`any.response-lost`): that one carries this stack's and address's tags.
            Err(error) if adopt::ALREADY_EXISTS.matches(&error) => {
                let found = self.find_interrupted(aws, request.stack, request.address, &config.name).await?;
                let existing = match found {
                    Some(_) => repository_api::describe_one(ecr, &config.name).await?,
                    None => None,
                };
                match existing {
                    Some(repository) => repository,
                    None => {
                        let name = &config.name;
                        return Err(adopt::name_taken(error, request.address, "repository", name, name));
                    }
                }
            }
            Err(error) => return Err(error),
        };
        if let Some(keep_images) = config.keep_images {
            repository_api::put_keep_images(ecr, &config.name, keep_images).await?;
        }
        Ok(Observed { id: config.name.clone(), inputs: JsonMap::new(), attributes: attributes(&repository) })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = RepositoryConfig::from_inputs(request.inputs)?;
        let (ecr, name) = (aws.ecr(), prior.id);
        let changed = |field: &str| changes.iter().any(|change| change.path.split(['.', '[']).next() == Some(field));
        if changed("scan_on_push") {
            repository_api::put_scan_on_push(ecr, name, config.scan_on_push).await?;
        }
        if changed("immutable_tags") {
            repository_api::put_immutable_tags(ecr, name, config.immutable_tags).await?;
        }
        if changed("keep_images") {
            match config.keep_images {
                Some(keep_images) => repository_api::put_keep_images(ecr, name, keep_images).await?,
                None => repository_api::delete_lifecycle_policy(ecr, name).await?,
            }
        }
        let mut attributes = prior.attributes.clone();
        if changed("tags") {
            let arn = match prior.attributes.get("arn").and_then(Json::as_str) {
                Some(arn) => arn.to_string(),
                None => {
                    let repository = repository_api::describe_one(ecr, name).await?.ok_or_else(|| {
                        DriverError::invalid(format!("repository `{name}` no longer exists"))
                            .with_hint("run `provision plan` again: it will be created anew")
                    })?;
                    attributes = self::attributes(&repository);
                    repository.repository_arn().unwrap_or_default().to_string()
                }
            };
            repository_api::put_tags(ecr, &arn, request.tags, &removed_tags(prior.inputs, request.tags)).await?;
        }
        Ok(Observed { id: name.to_string(), inputs: JsonMap::new(), attributes })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        // Unreadable inputs must not turn into a forced delete.
        let force = RepositoryConfig::from_inputs(resource.inputs).is_ok_and(|config| config.force_destroy);
        match repository_api::delete(aws.ecr(), resource.id, force).await {
            Err(error) if repository_api::is_missing(&error) => Ok(()),
            Err(error) if error.code_is("RepositoryNotEmptyException") => Err(DriverError {
                message: format!("repository `{}` still holds images, so it was kept", resource.id),
                ..error
            }
            .with_hint("set `force_destroy = true` on this resource (and apply) to delete the images with it")),
            other => other,
        }
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let ecr = aws.ecr();
        let Some(repository) = repository_api::describe_one(ecr, intended_id).await? else { return Ok(None) };
        let tags = repository_api::tags(ecr, repository.repository_arn().unwrap_or_default()).await?;
        let ours = crate::drivers::tags::made_by(&tags, stack, address);
        Ok(ours.then(|| intended_id.to_string()))
    }
}

/// What a refresh reads besides the description: the tags and, when the stack keeps a number of
/// images, the lifecycle policy.
type Extras = (BTreeMap<String, String>, Option<Option<i64>>);

/// The repository's ARN as the state recorded it.
fn recorded_arn<'a>(resource: &ExistingResource<'a>) -> Option<&'a str> {
    resource.attributes.get("arn").and_then(Json::as_str).filter(|arn| !arn.is_empty())
}

async fn read_extras(
    ecr: &Client,
    resource: &ExistingResource<'_>,
    name: &str,
    arn: &str,
) -> Result<Extras, DriverError> {
    let with_policy = resource.inputs.get("keep_images").is_some_and(|count| !count.is_null());
    let keep_images = async {
        if with_policy {
            repository_api::keep_images(ecr, name).await.map(Some)
        } else {
            Ok(None)
        }
    };
    futures::try_join!(repository_api::tags(ecr, arn), keep_images)
}

/// The repository as described, with its extras: `extras` when they were read already.
async fn observe(
    ecr: &Client,
    resource: &ExistingResource<'_>,
    found: Result<Option<Repository>, DriverError>,
    extras: Option<Extras>,
) -> Result<Option<Observed>, DriverError> {
    let Some(repository) = found? else { return Ok(None) };
    let name = repository.repository_name().unwrap_or(resource.id);
    let extras = match extras {
        Some(extras) => Ok(extras),
        None => read_extras(ecr, resource, name, repository.repository_arn().unwrap_or_default()).await,
    };
    let (tags, keep_images) = match extras {
        // Deleted between the calls.
        Err(error) if repository_api::is_missing(&error) => return Ok(None),
        other => other?,
    };
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), name.into());
    inputs.insert("scan_on_push".into(), repository_api::scans_on_push(&repository).into());
    inputs.insert("immutable_tags".into(), repository_api::has_immutable_tags(&repository).into());
    if let Some(keep_images) = keep_images {
        inputs.insert("keep_images".into(), keep_images.map(Json::from).unwrap_or(Json::Null));
    }
    inputs.insert("tags".into(), user_tags(&tags));
    Ok(Some(Observed { id: name.to_string(), inputs, attributes: attributes(&repository) }))
}

fn attributes(repository: &Repository) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), repository.repository_name().unwrap_or_default().into());
    attributes.insert("arn".into(), repository.repository_arn().unwrap_or_default().into());
    attributes.insert("url".into(), repository.repository_uri().unwrap_or_default().into());
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_ecr_rules() {
        assert!(check_name("shop-dev-api").is_ok());
        assert!(check_name("shop/api.v2").is_ok());
        assert!(check_name("Shop-API").unwrap_err().contains("lowercase"));
        assert!(check_name("shop--api").unwrap_err().contains("single"));
        assert!(check_name("shop/").unwrap_err().contains("single"));
        assert!(check_name("a").unwrap_err().contains("2 to 256"));
    }

    #[test]
    fn keeping_no_image_is_an_error() {
        let check = |count: i64| RepositoryDriver.check(&[("keep_images".to_string(), Value::Int(count))].into());
        assert_eq!(check(0).len(), 1);
        assert!(check(10).is_empty());
    }

    #[test]
    fn attributes_come_from_the_repository() {
        let repository = Repository::builder()
            .repository_name("shop-api")
            .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/shop-api")
            .repository_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-api")
            .build();
        let attributes = attributes(&repository);
        assert_eq!(attributes["url"], "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-api");
        assert_eq!(attributes["name"], "shop-api");
    }
}
