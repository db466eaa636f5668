//! Making a bucket as S3 answers it, played by the SDK's mocks (the emulator never aborts a create
//! and in us-east-1 never says `BucketAlreadyOwnedByYou`).

use aws_sdk_s3::operation::create_bucket::{CreateBucketError, CreateBucketOutput};
use aws_sdk_s3::operation::get_bucket_tagging::{GetBucketTaggingError, GetBucketTaggingOutput};
use aws_sdk_s3::operation::head_bucket::{HeadBucketError, HeadBucketOutput};
use aws_sdk_s3::types::error::NotFound;
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::error::ErrorMetadata;

use super::*;

struct Quiet;
impl ProgressSink for Quiet {
    fn waiting(&self, _address: &Address, _message: &str) {}
}

fn code(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(code).build()
}

fn absent() -> Rule {
    mock!(Client::head_bucket)
        .then_error(|| HeadBucketError::NotFound(NotFound::builder().meta(code("NotFound")).build()))
}

async fn make(rules: &[&Rule]) -> Result<(), DriverError> {
    let s3 = mock_client!(
        aws_sdk_s3,
        rules.iter().copied(),
        retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    );
    let address = Address::new("s3_bucket", "site");
    let stack =
        StackInfo { name: "shop".into(), region: "eu-west-1".into(), directory: PathBuf::from("."), lineage: None };
    let inputs = JsonMap::new();
    let tags = BTreeMap::new();
    let secrets = BTreeMap::new();
    let request = ResourceRequest::new(&address, &stack, &inputs, &tags, &secrets);
    make_bucket(&s3, &request, "shop-site", "eu-west-1", &Quiet).await
}

fn tagged(stack: &'static str, address: &'static str) -> Rule {
    mock!(Client::get_bucket_tagging).then_output(move || {
        GetBucketTaggingOutput::builder()
            .tag_set(aws_sdk_s3::types::Tag::builder().key("provision:stack").value(stack).build().unwrap())
            .tag_set(aws_sdk_s3::types::Tag::builder().key("provision:address").value(address).build().unwrap())
            .build()
            .unwrap()
    })
}

use std::collections::BTreeMap;

/// `destroy` then `apply`: the name deleted moments ago is refused until S3 is done with it.
#[tokio::test(start_paused = true)]
async fn a_name_deleted_moments_ago_is_created_once_s3_lets_go_of_it() {
    let aborted = mock!(Client::create_bucket).then_error(|| CreateBucketError::generic(code("OperationAborted")));
    let created = mock!(Client::create_bucket).then_output(|| CreateBucketOutput::builder().build());
    make(&[&absent(), &aborted, &created]).await.expect("created");
    assert_eq!((aborted.num_calls(), created.num_calls()), (1, 1));
}

/// The SDK's retry of a create whose answer was lost meets the bucket that create made.
#[tokio::test]
async fn a_lost_answer_meets_its_own_untagged_bucket_and_adopts_it() {
    let owned = mock!(Client::create_bucket).then_error(|| CreateBucketError::generic(code("BucketAlreadyOwnedByYou")));
    let untagged =
        mock!(Client::get_bucket_tagging).then_error(|| GetBucketTaggingError::generic(code("NoSuchTagSet")));
    make(&[&absent(), &owned, &untagged]).await.expect("adopted");
    assert_eq!(untagged.num_calls(), 1);
}

/// A bucket of the name that was made for another stack is refused, never taken over.
#[tokio::test]
async fn a_bucket_of_another_stack_is_refused_naming_the_import() {
    let exists = mock!(Client::head_bucket).then_output(|| HeadBucketOutput::builder().build());
    let never = mock!(Client::create_bucket).then_output(|| CreateBucketOutput::builder().build());
    let error = make(&[&exists, &tagged("other", "s3_bucket.site"), &never]).await.expect_err("refused");
    assert!(error.message.contains("the bucket `shop-site` already exists in this account"), "{}", error.message);
    assert!(error.hint.expect("a hint").contains("provision import s3_bucket.site shop-site"));
    assert_eq!(never.num_calls(), 0);
}

/// One made for this address (a state that lost it) is this create's.
#[tokio::test]
async fn a_bucket_made_for_this_address_is_adopted() {
    let exists = mock!(Client::head_bucket).then_output(|| HeadBucketOutput::builder().build());
    let never = mock!(Client::create_bucket).then_output(|| CreateBucketOutput::builder().build());
    make(&[&exists, &tagged("shop", "s3_bucket.site"), &never]).await.expect("adopted");
    assert_eq!(never.num_calls(), 0);
}
