//! S3: a bucket name deleted moments ago, and a bucket made moments ago.

use super::{Answer, Bound, Retry};

/// `s3.operation-aborted-on-recreate`: a bucket name deleted moments ago cannot be created again
/// until S3 has finished with it — the normal `destroy` then `apply` of a stack whose names are
/// deterministic. Evidence: S3 API `CreateBucket` error `OperationAborted` ("A conflicting
/// conditional operation is currently in progress against this resource. Try again.");
/// terraform-provider-aws `resourceBucketCreate` retries it for its 20-minute create timeout.
pub const OPERATION_ABORTED: Answer = Answer {
    id: "s3.operation-aborted-on-recreate",
    codes: &["OperationAborted"],
    message: None,
    waiting_for: "S3 to finish with the bucket name deleted moments ago",
    hint: "S3 is still finishing with a bucket of this name that was just deleted; run the command again \
           in a few minutes",
};

/// `CreateBucket`: 20 minutes, as terraform-provider-aws.
pub const CREATE_BUCKET: Retry = Retry::new(&[OPERATION_ABORTED], Bound::minutes(20));

/// `s3.no-such-bucket-after-create`: the bucket's configuration calls and first uploads, right
/// after `CreateBucket`, may not find it yet. Evidence: S3 user guide, "Amazon S3 data consistency
/// model" (bucket configurations are eventually consistent; a bucket made moments ago may not be
/// listed); terraform-provider-aws retries `NoSuchBucket` for `bucketPropagationTimeout` (2 minutes)
/// on every configuration it puts after a create.
pub const NO_SUCH_BUCKET_AFTER_CREATE: Answer = Answer {
    id: "s3.no-such-bucket-after-create",
    codes: &["NoSuchBucket"],
    message: None,
    waiting_for: "S3 to make the new bucket visible",
    hint: "S3 had not made the new bucket visible yet; run the command again",
};

/// Configuration and uploads of a bucket made by this create: 2 minutes.
pub const NEW_BUCKET: Retry = Retry::new(&[NO_SUCH_BUCKET_AFTER_CREATE, OPERATION_ABORTED], Bound::propagation(2));
