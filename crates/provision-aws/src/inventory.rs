//! What AWS lists as belonging to a stack: everything the Resource Groups Tagging API finds with
//! `provision:stack = <name>` (one paginated call covers every service it knows), plus what each
//! driver lists itself for services the tagging API does not cover (IAM).

use aws_sdk_resourcegroupstagging::types::TagFilter;
use provision_core::cloud::TaggedResource;
use provision_core::driver::{DriverError, DriverRegistry};

use crate::context::AwsContext;

pub async fn tagged(
    aws: &AwsContext,
    drivers: &DriverRegistry,
    stack: &str,
) -> Result<Vec<TaggedResource>, DriverError> {
    let filter = TagFilter::builder().key("provision:stack").values(stack).build();
    let mut tagged = tagged_with(aws, filter).await?;
    for driver in drivers.iter() {
        if let Some(listed) = driver.list_tagged(stack).await {
            let listed = listed.map_err(|error| {
                DriverError::invalid(format!("listing `{}` resources: {error}", driver.schema().type_name))
            })?;
            tagged.extend(listed.into_iter().map(|(arn, tags)| TaggedResource { arn, tags }));
        }
    }
    Ok(tagged)
}

/// Everything the Resource Groups Tagging API finds carrying the tag `key`, whatever its value and
/// its stack (`sweep --expired` looks for `provision:expires`).
pub async fn tagged_with_key(aws: &AwsContext, key: &str) -> Result<Vec<TaggedResource>, DriverError> {
    tagged_with(aws, TagFilter::builder().key(key).build()).await
}

async fn tagged_with(aws: &AwsContext, filter: TagFilter) -> Result<Vec<TaggedResource>, DriverError> {
    let mut tagged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = aws
            .tagging()
            .get_resources()
            .tag_filters(filter.clone())
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|error| crate::aws_error("GetResources", error))?;
        for mapping in answer.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else { continue };
            let tags = mapping.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            tagged.push(TaggedResource { arn: arn.to_string(), tags });
        }
        token = answer.pagination_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(tagged)
}
