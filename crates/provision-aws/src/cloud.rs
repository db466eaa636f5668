//! [`AwsCloud`]: the core's [`Cloud`] over the AWS SDK.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::cloud::{Cloud, Identity, Network, TaggedResource};
use provision_core::driver::{DriverError, DriverRegistry};
use provision_core::stack::NetworkSpec;

use crate::context::{AwsSession, ConnectOptions};

pub struct AwsCloud {
    session: Arc<AwsSession>,
    drivers: DriverRegistry,
}

impl AwsCloud {
    /// Builds the drivers; nothing connects until the first call that needs AWS.
    pub fn new(options: ConnectOptions) -> AwsCloud {
        let session = AwsSession::new(options);
        let drivers = crate::drivers::registry(session.clone());
        AwsCloud { session, drivers }
    }

    pub fn session(&self) -> &Arc<AwsSession> {
        &self.session
    }
}

#[async_trait]
impl Cloud for AwsCloud {
    fn drivers(&self) -> &DriverRegistry {
        &self.drivers
    }

    async fn region(&self) -> Result<String, DriverError> {
        Ok(self.session.context().await?.region().to_string())
    }

    async fn identity(&self) -> Result<Identity, DriverError> {
        let aws = self.session.context().await?;
        // Asked once per run: a driver that needs the account (image digests) shares the answer.
        let account = aws.account().await?.to_string();
        Ok(Identity { region: aws.region().to_string(), account })
    }

    async fn network(&self, spec: &NetworkSpec) -> Result<Network, DriverError> {
        let aws = self.session.context().await?;
        crate::network::look_up(aws, &spec.vpc, spec.subnets.as_deref()).await
    }

    async fn tagged(&self, stack: &str) -> Result<Vec<TaggedResource>, DriverError> {
        let aws = self.session.context().await?;
        crate::inventory::tagged(aws, &self.drivers, stack).await
    }

    fn request_count(&self) -> u64 {
        self.session.connected().map(|aws| aws.request_count()).unwrap_or(0)
    }

    fn retry_count(&self) -> (u64, u64) {
        self.session.connected().map(|aws| (aws.retry_count(), aws.throttled_count())).unwrap_or((0, 0))
    }
}
