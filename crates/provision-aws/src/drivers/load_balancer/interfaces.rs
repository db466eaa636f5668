//! The network interfaces an application load balancer leaves behind.
//!
//! ELB makes one interface per subnet (described `ELB app/NAME/ID`, owned by `amazon-elb`) and
//! removes them asynchronously, minutes after `DeleteLoadBalancer`. Until they are gone they hold the
//! load balancer's security groups and subnets, so the delete waits for them
//! (`elbv2.load-balancer-interfaces-linger`). Past the wait's bound the delete still counts as done
//! (the load balancer is gone; EC2 removes the interfaces by itself), and the security group's own
//! retry covers what remains.

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use crate::behaviours::{Look, Wait};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// `app/NAME/ID` of a load balancer ARN, as ELB writes it into its interfaces' descriptions.
pub(super) fn description(arn: &str) -> Option<String> {
    let (_, resource) = arn.split_once(":loadbalancer/")?;
    (resource.split('/').count() == 3).then(|| format!("ELB {resource}"))
}

/// The ids of the interfaces ELB made for the load balancer that are still there.
async fn remaining(ec2: &Client, description: &str) -> Result<Vec<String>, DriverError> {
    let output = ec2
        .describe_network_interfaces()
        .filters(Filter::builder().name("description").values(description).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeNetworkInterfaces", error))?;
    Ok(output
        .network_interfaces()
        .iter()
        .filter_map(|interface| interface.network_interface_id())
        .map(str::to_string)
        .collect())
}

/// Waits until the load balancer's interfaces are gone; past the wait's bound, reports what
/// remains and returns.
pub(super) async fn wait_until_gone(
    ec2: &Client,
    address: &Address,
    arn: &str,
    wait: Wait,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let Some(description) = description(arn) else { return Ok(()) };
    let subject = "the count of its network interfaces".to_string();
    let outcome = wait
        .until(address, progress, &subject, || async {
            let left = remaining(ec2, &description).await?;
            Ok(match left.len() {
                0 => Look::Done(()),
                count => Look::Pending(format!("{count} ({})", left.join(", "))),
            })
        })
        .await;
    match outcome {
        Err(error) if error.code.is_none() && error.operation.is_empty() => {
            progress.waiting(address, &format!("{}; {}", error.message, wait.hint));
            tracing::warn!("{address}: {}", error.message);
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::NetworkInterface;
    use aws_smithy_mocks::mock;

    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188";

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl ProgressSink for Lines {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    fn answer(ids: &[&'static str]) -> DescribeNetworkInterfacesOutput {
        let interfaces = ids
            .iter()
            .map(|id| {
                NetworkInterface::builder()
                    .network_interface_id(*id)
                    .description("ELB app/shop-web/50dc6c495c0c9188")
                    .build()
            })
            .collect();
        DescribeNetworkInterfacesOutput::builder().set_network_interfaces(Some(interfaces)).build()
    }

    #[test]
    fn the_description_is_the_arns_last_three_parts() {
        assert_eq!(description(ARN).as_deref(), Some("ELB app/shop-web/50dc6c495c0c9188"));
        assert_eq!(description("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1"), None);
    }

    /// EC2's answers after a load balancer's delete, played by the SDK's mocks (the emulator makes
    /// no interfaces for a load balancer): two interfaces, then one, then none.
    #[tokio::test]
    async fn the_delete_waits_until_the_interfaces_are_gone() {
        let two = mock!(Client::describe_network_interfaces).then_output(|| answer(&["eni-1", "eni-2"]));
        let one = mock!(Client::describe_network_interfaces).then_output(|| answer(&["eni-2"]));
        let none = mock!(Client::describe_network_interfaces).then_output(|| answer(&[]));
        let ec2 = mock_client!(aws_sdk_ec2, [&two, &one, &none]);
        let lines = Lines::default();
        let wait = crate::behaviours::elbv2::INTERFACES_GONE.fast();
        wait_until_gone(&ec2, &Address::new("load_balancer", "web"), ARN, wait, &lines).await.expect("gone");
        let lines = lines.0.into_inner().expect("lock");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("the count of its network interfaces is 2 (eni-1, eni-2)"), "{lines:?}");
        assert_eq!(none.num_calls(), 1);
    }

    /// Past the bound the delete counts as done and says what remains.
    #[tokio::test]
    async fn interfaces_that_outlast_the_wait_are_reported_not_failed() {
        let stays =
            mock!(Client::describe_network_interfaces).sequence().output(|| answer(&["eni-1"])).repeatedly().build();
        let ec2 = mock_client!(aws_sdk_ec2, [&stays]);
        let lines = Lines::default();
        let wait = crate::behaviours::elbv2::INTERFACES_GONE.fast().with_timeout(std::time::Duration::from_millis(10));
        wait_until_gone(&ec2, &Address::new("load_balancer", "web"), ARN, wait, &lines).await.expect("not a failure");
        let lines = lines.0.into_inner().expect("lock");
        assert!(lines.last().expect("a line").contains("EC2 removes its network interfaces by itself"), "{lines:?}");
    }
}
