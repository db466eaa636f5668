//! Images by digest: a container image `REPO:TAG` in this account's ECR is deployed as
//! `REPO@sha256:…`, the digest the tag points at when the plan is made.
//!
//! A tag is a moving name: `:latest` or `:main` pushed again means a new image under the same task
//! definition, which ECS would only pick up when a task happens to restart. Resolving the tag at plan
//! time makes a push a visible change (`container.image_digest: … -> …`), recorded in the state, and
//! rolled out by `apply` as a new task definition revision; it also means every task of a revision
//! runs exactly the same image. `pin_digest = false` keeps the tag. Images outside ECR (Docker Hub)
//! and ECR images of other accounts or regions are left as written.
//!
//! The digest is a hidden entry of the `container` table (`image_digest`): the stack file cannot
//! set it, and the core merges it into the container the plan shows.

use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::{json, Value as Json};

use crate::context::AwsContext;
use crate::drivers::{DriverError, StackInfo};
use provision_core::value::JsonMap;

/// The hidden `container` entry holding the resolved digest.
pub(super) const DIGEST: &str = "image_digest";

/// An image reference in ECR: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG`.
#[derive(Debug, PartialEq)]
pub(super) struct EcrImage<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY`, the part before `:TAG`.
    pub repository_url: &'a str,
    pub repository: &'a str,
    pub tag: &'a str,
}

/// The ECR parts of `image`, or `None` for an image elsewhere or one already given by digest.
pub(super) fn ecr_image(image: &str) -> Option<EcrImage<'_>> {
    if image.contains('@') {
        return None;
    }
    let (host, path) = image.split_once('/')?;
    let (account, rest) = host.split_once(".dkr.ecr.")?;
    let region = rest.strip_suffix(".amazonaws.com").or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    if account.is_empty() || !account.chars().all(|c| c.is_ascii_digit()) || region.is_empty() {
        return None;
    }
    let (repository, tag) = match path.rsplit_once(':') {
        Some((repository, tag)) => (repository, tag),
        None => (path, "latest"),
    };
    let repository_url = &image[..host.len() + 1 + repository.len()];
    Some(EcrImage { account, region, repository_url, repository, tag })
}

/// `{"container": {"image_digest": …}}`: the digest the container's tag points at, `null` when the
/// image is not pinned (`pin_digest = false`, not in this account's ECR), and nothing at all while
/// the image is not known yet (the executor asks again once it is).
pub(super) async fn resolve(aws: &AwsContext, stack: &StackInfo, inputs: &JsonMap) -> Result<JsonMap, DriverError> {
    let Some(container) = inputs.get("container").and_then(Json::as_object) else { return Ok(JsonMap::new()) };
    let answer = |digest: Json| {
        let mut resolved = JsonMap::new();
        resolved.insert("container".into(), json!({ DIGEST: digest }));
        resolved
    };
    if container.get("pin_digest").and_then(Json::as_bool) == Some(false) {
        return Ok(answer(Json::Null));
    }
    let Some(image) = container.get("image").and_then(Json::as_str) else { return Ok(JsonMap::new()) };
    let Some(ecr) = ecr_image(image) else { return Ok(answer(Json::Null)) };
    if ecr.region != stack.region || ecr.account != aws.account().await? {
        return Ok(answer(Json::Null));
    }
    digest_of(aws, &ecr).await.map(|digest| answer(Json::String(digest)))
}

/// The digest `ecr.tag` points at now. A tag or repository that does not exist is an error naming
/// both.
async fn digest_of(aws: &AwsContext, ecr: &EcrImage<'_>) -> Result<String, DriverError> {
    let answer = aws
        .ecr()
        .describe_images()
        .registry_id(ecr.account)
        .repository_name(ecr.repository)
        .image_ids(ImageIdentifier::builder().image_tag(ecr.tag).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeImages", error));
    let missing = |what: String| {
        DriverError::invalid(what).with_hint(format!(
            "push the image first (`docker push {}:{}`; for a repository this stack creates, `provision apply \
             --target ecr_repository.NAME` makes it), or set `pin_digest = false` in the container to deploy by tag",
            ecr.repository_url, ecr.tag
        ))
    };
    match answer {
        Ok(output) => {
            let digest = output.image_details().iter().find_map(|detail| detail.image_digest());
            digest.map(str::to_string).ok_or_else(|| {
                missing(format!(
                    "the image tag `{}` does not exist in the ECR repository `{}`",
                    ecr.tag, ecr.repository
                ))
            })
        }
        Err(error) if error.code_is("ImageNotFoundException") => Err(missing(format!(
            "the image tag `{}` does not exist in the ECR repository `{}`",
            ecr.tag, ecr.repository
        ))),
        Err(error) if error.code_is("RepositoryNotFoundException") => Err(missing(format!(
            "the ECR repository `{}` (for the image tag `{}`) does not exist",
            ecr.repository, ecr.tag
        ))),
        Err(error) => Err(error),
    }
}

/// The image ECS runs: `REPO@sha256:…` when a digest was resolved, else the image as written.
pub(super) fn deployed_image(image: &str, digest: Option<&str>) -> String {
    match (digest, ecr_image(image)) {
        (Some(digest), Some(ecr)) => format!("{}@{digest}", ecr.repository_url),
        _ => image.to_string(),
    }
}

/// The stack file's `image` and `image_digest` for an image ECS runs: `REPO@sha256:…` of the
/// applied image's repository reads back as the applied tag and the digest.
pub(super) fn observed_image(running: &str, applied_image: &str) -> (String, Option<String>) {
    if let (Some((repository, digest)), Some(ecr)) = (running.split_once('@'), ecr_image(applied_image)) {
        if repository == ecr.repository_url {
            return (applied_image.to_string(), Some(digest.to_string()));
        }
    }
    (running.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api:v1";

    #[test]
    fn ecr_images_are_recognised_with_their_parts() {
        let ecr = ecr_image(IMAGE).expect("an ECR image");
        assert_eq!(ecr.account, "123456789012");
        assert_eq!(ecr.region, "us-east-1");
        assert_eq!(ecr.repository, "shop/api");
        assert_eq!(ecr.repository_url, "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api");
        assert_eq!(ecr.tag, "v1");
        let untagged = ecr_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/api").expect("an ECR image");
        assert_eq!(untagged.tag, "latest");
    }

    #[test]
    fn other_images_are_left_alone() {
        assert_eq!(ecr_image("nginx:1.27"), None);
        assert_eq!(ecr_image("docker.io/library/nginx:1.27"), None);
        assert_eq!(ecr_image("ghcr.io/org/app:main"), None);
        assert_eq!(ecr_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:abc"), None);
    }

    #[test]
    fn a_pinned_image_is_sent_by_digest_and_reads_back_as_its_tag() {
        let deployed = deployed_image(IMAGE, Some("sha256:abc"));
        assert_eq!(deployed, "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api@sha256:abc");
        assert_eq!(deployed_image(IMAGE, None), IMAGE);
        assert_eq!(deployed_image("nginx:1", Some("sha256:abc")), "nginx:1");
        assert_eq!(observed_image(&deployed, IMAGE), (IMAGE.to_string(), Some("sha256:abc".to_string())));
        let elsewhere = "123456789012.dkr.ecr.us-east-1.amazonaws.com/other@sha256:abc";
        assert_eq!(observed_image(elsewhere, IMAGE), (elsewhere.to_string(), None));
        assert_eq!(observed_image(IMAGE, IMAGE), (IMAGE.to_string(), None));
    }
}
