//! provision-aws: everything that knows AWS. One driver per resource type ([`drivers`]), the
//! connection they share ([`context`]), the network look-up, the tag inventory behind `state
//! orphans` and `destroy --sweep`, the S3 state backend ([`state_backend`]), the readers of other
//! tools' records for `import --from-*` ([`cloudformation`], [`object_reader`]), and [`AwsCloud`],
//! which hands all of it to the core engine.
//!
//! Every `aws-sdk-*` crate is used here and nowhere else.

#[cfg(test)]
#[macro_use]
mod mock;

pub mod behaviours;
mod cloud;
pub mod cloudformation;
pub mod concurrency;
pub mod context;
pub mod drivers;
mod error;
pub mod http_client;
pub mod inventory;
pub mod network;
pub mod object_reader;
mod observer;
pub mod route53_emulator;
pub(crate) mod server_clock;
pub mod state_backend;

pub use cloud::AwsCloud;
pub use context::{AwsContext, AwsSession, ConnectOptions, Service};
pub use error::aws_error;
pub use state_backend::S3Backend;
