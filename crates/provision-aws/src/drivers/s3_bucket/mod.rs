//! `s3_bucket`: a private bucket, optionally kept in sync with a local folder (`upload`).
//!
//! The folder is hashed at plan time (`prepare`) into a hidden `files` input, key → MD5. That makes a
//! content change an ordinary field change: the plan lists the files that differ, a refresh compares
//! them with the objects' ETags (the MD5 of anything written by one PutObject), and `content_hash`
//! over the same map tells a CloudFront distribution exactly when to invalidate its cache.
//!
//! A refresh of many buckets answers "does it still exist" with one ListBuckets for all of them and,
//! alongside it rather than after it, reads only what the planner compares: versioning, tags, the
//! public access block and, for synced buckets, the objects.
//!
//! Deleting a bucket removes what provision uploaded but nothing else unless `force_destroy` says so:
//! a bucket may hold data someone else put there, and S3 offers no undo.
//!
//! A bucket that exists already is never taken over: in us-east-1 a second `CreateBucket` of a
//! bucket the account owns answers `200`, so a create looks first (its tags) and refuses a bucket
//! this state did not make, naming `provision import`. After a kill between `CreateBucket` and its
//! tags, the bucket carries no tags yet; the intent a create records holds the time it was
//! recorded, and such a bucket is adopted only if S3 created it after that time (on S3's clock:
//! this machine's offset from it is measured from S3's `Date`) — one that was there before is
//! someone else's.

mod bucket_api;
mod manifest;
mod objects;
mod ownership;

use std::collections::BTreeSet;
use std::path::PathBuf;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use serde::Deserialize;
use serde_json::Value as Json;

use self::manifest::Manifest;
use self::objects::ObjectRef;
use self::ownership::{claim, made_since, split_intent};
use crate::behaviours::{adopt, s3 as behaviour, Retry};
use crate::context::AwsContext;
use crate::drivers::tags::{user_tags, PROVISION_TAG_PREFIX};
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::JsonMap;

pub struct BucketDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "s3_bucket",
    description: "A private S3 bucket (public access blocked), optionally synced with a local folder.",
    fields: &[
        FieldSpec::new("bucket", FieldKind::String, "The bucket name, unique across all of AWS.")
            .default(schema::Default::AwsName { max_len: 63 })
            .forces_replacement()
            .check(check_bucket_name),
        FieldSpec::new("versioning", FieldKind::Bool, "Keep every version of every object.")
            .default(schema::Default::Bool(false)),
        FieldSpec::new(
            "force_destroy",
            FieldKind::Bool,
            "On destroy, also delete objects (and versions) that provision did not upload.",
        )
        .default(schema::Default::Bool(false)),
        FieldSpec::new(
            "upload",
            FieldKind::String,
            "A local folder, relative to the stack file, whose files are synced to the bucket: changed \
             files are uploaded, removed ones deleted. Only regular files inside the folder are sent: \
             a symbolic link out of it is an error.",
        )
        .check(manifest::check_upload_path),
    ],
    attributes: &["name", "arn", "regional_domain_name", "content_hash"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// S3's bucket naming rules, so `validate` catches a bad name before AWS does.
fn check_bucket_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let problem = if !(3..=63).contains(&name.len()) {
        Some("must be 3 to 63 characters long")
    } else if !name.chars().all(allowed) {
        Some("may contain only lowercase letters, digits, `.` and `-`")
    } else if !edge(name.chars().next()) || !edge(name.chars().last()) {
        Some("must begin and end with a lowercase letter or a digit")
    } else if name.contains("..") {
        Some("must not contain two dots in a row")
    } else if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        Some("must not look like an IP address")
    } else if name.starts_with("xn--") || name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        Some("must not start with `xn--` or end with `-s3alias` or `--ol-s3`")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("bucket name `{name}` {problem} (S3 naming rules)")),
        None => Ok(()),
    }
}

/// From this many objects on, an upload or delete reports progress.
const REPORT_FROM: usize = 10;
/// Errors of GetBucketTagging on a bucket name that someone else holds.
const NOT_OURS: &[&str] = &["AccessDenied", "PermanentRedirect", "AuthorizationHeaderMalformed", "NoSuchBucket"];

/// The inputs of one bucket, as the planner resolved them (or as the state recorded them).
#[derive(Debug, Deserialize)]
struct BucketConfig {
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    versioning: bool,
    #[serde(default)]
    force_destroy: bool,
    #[serde(default)]
    upload: Option<String>,
    /// Added by `prepare` when `upload` is set.
    #[serde(default)]
    files: Option<Manifest>,
}

impl BucketConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<BucketConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `s3_bucket` inputs: {error}")))
    }

    fn files(&self) -> Manifest {
        self.files.clone().unwrap_or_default()
    }
}

#[async_trait]
impl AwsDriver for BucketDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: the bucket's configuration waits until S3 sees the new bucket (`s3.no-such-bucket-after-create`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(10, 0, 0)
    }

    fn prepare_reads_files(&self) -> bool {
        true
    }

    fn prepare(&self, stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        inputs.insert(PUBLIC_ACCESS_BLOCKED.into(), Json::Bool(true));
        let config = BucketConfig::from_inputs(inputs)?;
        if let Some(upload) = &config.upload {
            let files = manifest::scan(&upload_folder(stack, upload)?)?;
            inputs.insert("files".into(), manifest_json(&files));
        }
        Ok(())
    }

    fn planned_attributes(&self, stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let Some(name) = inputs.get("bucket").and_then(Json::as_str) else {
            return JsonMap::new();
        };
        let files = inputs.get("files").and_then(Json::as_object);
        let pairs = files.map(|files| files.iter().map(|(key, md5)| (key.as_str(), md5.as_str().unwrap_or_default())));
        attributes(name, &stack.region, pairs.map(manifest::content_hash))
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        check_bucket_name(id).map_err(|message| {
            DriverError::invalid(format!("`{id}` is not a bucket name: {message}"))
                .with_hint("import an S3 bucket by its name, e.g. `my-site-bucket`")
        })?;
        Ok(id.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.strip_prefix("arn:aws:s3:::").filter(|name| !name.contains('/')).map(str::to_string)
    }

    async fn read(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.is_empty() {
            return Vec::new();
        }
        // Every bucket is read by its name alongside the listing, not after it; the listing says
        // which buckets are this account's, and a read counts only for those (a name deleted and
        // taken by another account answers `AccessDenied`, not drift).
        let limiter = aws.limiter(crate::Service::S3);
        let early = resources.iter().map(|resource| Some(move || read_bucket(aws.s3(), stack, resource)));
        let (existing, reads) = limiter.alongside(bucket_api::existing_buckets(aws.s3()), early).await;
        let existing = match existing {
            Ok(names) => names,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        resources
            .iter()
            .zip(reads)
            .map(|(resource, read)| match read {
                Some(read) if existing.contains(resource.id) => read,
                _ => Ok(None),
            })
            .collect()
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = BucketConfig::from_inputs(request.inputs)?;
        let (s3, name) = (aws.s3(), config.bucket.as_str());
        make_bucket(s3, request, name, aws.region(), progress).await?;
        let keys: Vec<String> = config.files().into_keys().collect();
        // S3 may not find a bucket made moments ago: every call below retries that answer.
        let new = behaviour::NEW_BUCKET;
        // The uploads need only the bucket (and, when versioned, versioning first, so every object
        // has a version): they run alongside the public access block and the tags. The objects are
        // private whatever the block says (no ACL is sent), so nothing is public meanwhile.
        let uploads = async {
            if config.versioning {
                new.run(|| bucket_api::put_versioning(s3, name, true)).await?;
            }
            upload(s3, request, &config, &keys, new, progress).await
        };
        futures::try_join!(
            new.run(|| bucket_api::block_public_access(s3, name)),
            new.run(|| bucket_api::put_tags(s3, name, request.tags)),
            uploads,
        )?;
        Ok(observed(name, &request.stack.region, config.files.as_ref()))
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = BucketConfig::from_inputs(request.inputs)?;
        let (s3, name) = (aws.s3(), prior.id);
        let changed: BTreeSet<&str> = changes.iter().map(|change| top_level_field(&change.path)).collect();
        let versioning = async {
            if changed.contains("versioning") {
                bucket_api::put_versioning(s3, name, config.versioning).await
            } else {
                Ok(())
            }
        };
        let tags = async {
            if changed.contains("tags") {
                bucket_api::put_tags(s3, name, request.tags).await
            } else {
                Ok(())
            }
        };
        let blocked = async {
            if changed.contains(PUBLIC_ACCESS_BLOCKED) {
                bucket_api::block_public_access(s3, name).await
            } else {
                Ok(())
            }
        };
        futures::try_join!(versioning, tags, blocked)?;
        if changed.contains("files") || changed.contains("upload") {
            let prior_files = BucketConfig::from_inputs(prior.inputs)?.files();
            let plan = sync_plan(&prior_files, &config.files());
            upload(s3, request, &config, &plan.upload, Retry::NEVER, progress).await?;
            let removed: Vec<ObjectRef> = plan.remove.into_iter().map(ObjectRef::current).collect();
            delete_objects(s3, request.address, name, &removed, progress).await?;
        }
        Ok(observed(name, &request.stack.region, config.files.as_ref()))
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let config = BucketConfig::from_inputs(resource.inputs)?;
        let (s3, name) = (aws.s3(), resource.id);
        let outcome = async {
            let objects = objects_to_delete(s3, name, &config).await?;
            delete_objects(s3, resource.address, name, &objects, progress).await?;
            bucket_api::delete(s3, name).await
        };
        match outcome.await {
            Err(error) if error.code_is("NoSuchBucket") => Ok(()),
            Err(error) if error.code_is("BucketNotEmpty") => Err(not_empty_error(name, error)),
            other => other,
        }
    }

    /// The intent is the bucket's name and when the intent was recorded (`NAME@SECONDS`), so that
    /// a bucket the killed create made but could not tag yet can be told from one that was there:
    /// a create looks first and never calls `CreateBucket` for a bucket that exists, so an untagged
    /// bucket S3 made before the intent is someone else's.
    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        let name = request.inputs.get("bucket").and_then(Json::as_str).unwrap_or_default();
        // A create planned again after an interrupted one keeps that one's time: its CreateBucket
        // may still land, and the bucket it makes is this create's as much as that one's.
        if let Some(earlier) = request.intent.filter(|intent| split_intent(intent).0 == name) {
            return earlier.to_string();
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        format!("{name}@{now}")
    }

    /// One GetBucketTagging answers the three cases (missing, someone else's, ours) where a
    /// HeadBucket first would only add a round trip. A bucket tagged as this state's for this
    /// address is ours; one tagged otherwise is not; an untagged one is ours only if S3 made it
    /// after the intent was recorded (the create was killed before it could tag it).
    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let (name, since) = split_intent(intended_id);
        match bucket_api::tags(aws.s3(), name).await {
            Ok(tags) if tags.keys().any(|key| key.starts_with(PROVISION_TAG_PREFIX)) => {
                Ok(crate::drivers::tags::made_by(&tags, stack, address).then(|| name.to_string()))
            }
            Ok(_) => Ok(made_since(aws.s3(), name, since).await?.then(|| name.to_string())),
            Err(error) if NOT_OURS.iter().any(|code| error.code_is(code)) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Makes the bucket, or finds it made by this create already.
///
/// It looks first (`ownership::claim`): in us-east-1 a second `CreateBucket` of a bucket the account
/// owns answers `200`, so the answer alone cannot tell a new bucket from someone's old one. A bucket
/// that is there already is this create's only when it is tagged as this state's for this address,
/// or untagged and made by S3 after this create's intent. A name deleted moments ago answers
/// `OperationAborted` for a while (`s3.operation-aborted-on-recreate`); a create whose answer was lost
/// meets `BucketAlreadyOwnedByYou` on the SDK's retry, and the bucket it made is judged the same way
/// (`any.response-lost`).
async fn make_bucket(
    s3: &Client,
    request: &ResourceRequest<'_>,
    name: &str,
    region: &str,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    if bucket_api::presence(s3, name).await? == bucket_api::Presence::Owned {
        return claim(s3, name, request).await;
    }
    let created = behaviour::CREATE_BUCKET
        .run_reporting(request.address, progress, || bucket_api::create(s3, name, region))
        .await;
    match created {
        // Made between the look and the create: by this create's own request whose answer was
        // lost (still untagged, or tagged for this address), or else by someone else.
        Err(error) if adopt::ALREADY_EXISTS.matches(&error) => {
            let tags = behaviour::NEW_BUCKET.run(|| bucket_api::tags(s3, name)).await?;
            let untagged = !tags.keys().any(|key| key.starts_with(PROVISION_TAG_PREFIX));
            if untagged || crate::drivers::tags::made_by(&tags, request.stack, request.address) {
                Ok(())
            } else {
                claim(s3, name, request).await
            }
        }
        other => other,
    }
}

/// The `upload` folder, which must exist (syncing a missing folder would empty the bucket) and lie
/// inside the stack's folder: not absolute, not out through `..`, not a link that leads elsewhere.
fn upload_folder(stack: &StackInfo, upload: &str) -> Result<PathBuf, DriverError> {
    manifest::check_upload_path(upload).map_err(|problem| {
        DriverError::invalid(format!("`upload`: {problem}"))
            .with_hint("move the files into a folder beside the stack file, e.g. `upload = \"site\"`")
    })?;
    let folder = stack.directory.join(upload);
    if folder.is_dir() {
        let inside = match (folder.canonicalize(), stack.directory.canonicalize()) {
            (Ok(real), Ok(base)) => real.starts_with(&base).then_some(()).ok_or(real),
            (Err(_), _) | (_, Err(_)) => Ok(()),
        };
        if let Err(real) = inside {
            return Err(DriverError::invalid(format!(
                "`upload` folder `{upload}` is a symbolic link to `{}`, outside the stack's folder",
                real.display()
            ))
            .with_hint("only a folder inside the stack's folder is uploaded; copy the files there"));
        }
        return Ok(folder);
    }
    let problem = if folder.exists() { "is not a folder" } else { "does not exist" };
    Err(DriverError::invalid(format!("`upload` folder `{upload}` {problem}")).with_hint(format!(
        "`upload` is relative to the folder holding the stack file ({}); create the folder or fix the path",
        stack.directory.display()
    )))
}

async fn read_bucket(
    s3: &Client,
    stack: &StackInfo,
    resource: &ExistingResource<'_>,
) -> Result<Option<Observed>, DriverError> {
    let with_files = resource.inputs.get("upload").is_some_and(|upload| !upload.is_null());
    match observe(s3, stack, resource.id, with_files).await {
        // Deleted (before the listing or between it and the reads).
        Err(error) if error.code_is("NoSuchBucket") => Ok(None),
        other => other.map(Some),
    }
}

/// The hidden input saying the bucket blocks all public access (always wanted: the bucket is
/// private; someone turning a block off shows as drift and the next apply turns it on again).
const PUBLIC_ACCESS_BLOCKED: &str = "public_access_blocked";

/// Reads the fields the planner compares: 3 requests at once, 4 (or more, per 1000 objects) with files.
async fn observe(s3: &Client, stack: &StackInfo, name: &str, with_files: bool) -> Result<Observed, DriverError> {
    let files = async {
        if with_files {
            objects::list(s3, name).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (versioning, tags, blocked, files) = futures::try_join!(
        bucket_api::versioning_enabled(s3, name),
        bucket_api::tags(s3, name),
        bucket_api::public_access_blocked(s3, name),
        files
    )?;
    let mut result = observed(name, &stack.region, files.as_ref());
    result.inputs.insert("bucket".into(), name.into());
    result.inputs.insert("versioning".into(), versioning.into());
    result.inputs.insert(PUBLIC_ACCESS_BLOCKED.into(), blocked.into());
    result.inputs.insert("tags".into(), user_tags(&tags));
    if let Some(files) = &files {
        result.inputs.insert("files".into(), manifest_json(files));
    }
    Ok(result)
}

fn observed(name: &str, region: &str, files: Option<&Manifest>) -> Observed {
    let content_hash = files.map(|files| manifest::content_hash(files.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    Observed { id: name.to_string(), inputs: JsonMap::new(), attributes: attributes(name, region, content_hash) }
}

fn attributes(name: &str, region: &str, content_hash: Option<String>) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), name.into());
    attributes.insert("arn".into(), format!("arn:aws:s3:::{name}").into());
    attributes.insert("regional_domain_name".into(), format!("{name}.s3.{region}.amazonaws.com").into());
    attributes.insert("content_hash".into(), content_hash.unwrap_or_default().into());
    attributes
}

fn manifest_json(files: &Manifest) -> Json {
    Json::Object(files.iter().map(|(key, md5)| (key.clone(), Json::String(md5.clone()))).collect())
}

/// `files.index.html` and `tags.team` both change their top-level field.
fn top_level_field(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// What a sync must do to turn the bucket's `prior` content into `next`.
#[derive(Debug, Default, PartialEq)]
struct SyncPlan {
    upload: Vec<String>,
    remove: Vec<String>,
}

fn sync_plan(prior: &Manifest, next: &Manifest) -> SyncPlan {
    SyncPlan {
        upload: next.iter().filter(|(key, md5)| prior.get(*key) != Some(md5)).map(|(key, _)| key.clone()).collect(),
        remove: prior.keys().filter(|key| !next.contains_key(*key)).cloned().collect(),
    }
}

async fn upload(
    s3: &Client,
    request: &ResourceRequest<'_>,
    config: &BucketConfig,
    keys: &[String],
    retry: Retry,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    if keys.is_empty() {
        return Ok(());
    }
    let upload = config.upload.as_deref().ok_or_else(|| DriverError::invalid("`files` is set without `upload`"))?;
    let folder = upload_folder(request.stack, upload)?;
    if keys.len() >= REPORT_FROM {
        progress.waiting(request.address, &format!("uploading {} files", keys.len()));
    }
    objects::upload(s3, &config.bucket, &folder, keys, retry).await
}

async fn delete_objects(
    s3: &Client,
    address: &Address,
    bucket: &str,
    objects: &[ObjectRef],
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    if objects.is_empty() {
        return Ok(());
    }
    if objects.len() >= REPORT_FROM {
        progress.waiting(address, &format!("deleting {} objects", objects.len()));
    }
    objects::delete(s3, bucket, objects).await
}

/// Everything with `force_destroy`; otherwise only what provision uploaded — every version of it
/// when versioning was on, since old versions alone keep a bucket from being deleted.
async fn objects_to_delete(s3: &Client, name: &str, config: &BucketConfig) -> Result<Vec<ObjectRef>, DriverError> {
    let files = config.files();
    if config.force_destroy {
        objects::list_versions(s3, name, None).await
    } else if files.is_empty() {
        Ok(Vec::new())
    } else if config.versioning {
        let keys: BTreeSet<&str> = files.keys().map(String::as_str).collect();
        objects::list_versions(s3, name, Some(&keys)).await
    } else {
        Ok(files.into_keys().map(ObjectRef::current).collect())
    }
}

fn not_empty_error(name: &str, error: DriverError) -> DriverError {
    DriverError {
        message: format!(
            "bucket `{name}` still holds objects that provision did not upload (or old versions of files \
             it removed), so it was kept"
        ),
        ..error
    }
    .with_hint("set `force_destroy = true` on this resource to delete them too")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod making;
