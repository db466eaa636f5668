//! Listener calls and the translation between a listener's default action and the three fields
//! (`forward`, `redirect_to_https`, neither) that describe it in a stack file.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::ListenerConfig;
use crate::behaviours::{self, Retry};
use crate::drivers::elbv2::{self, Describe};
use crate::drivers::DriverError;

/// What a listener does with a request no rule matched.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum DefaultAction {
    Forward(String),
    RedirectToHttps,
    /// Answers 404: a listener whose stack file gives neither `forward` nor `redirect_to_https`.
    NotFound,
    /// Anything else, set outside provision (a redirect elsewhere, another fixed response …).
    Other,
}

impl DefaultAction {
    fn to_aws(&self) -> Action {
        match self {
            DefaultAction::Forward(target_group) => {
                Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group).build()
            }
            DefaultAction::RedirectToHttps => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .host("#{host}")
                        .path("/#{path}")
                        .query("#{query}")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build(),
            DefaultAction::NotFound | DefaultAction::Other => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("404")
                        .content_type("text/plain")
                        .message_body("Not Found")
                        .build(),
                )
                .build(),
        }
    }

    /// The action that answers the request: the last one by order (an authenticate action may come
    /// first).
    fn from_aws(actions: &[Action]) -> DefaultAction {
        let Some(last) = actions.iter().enumerate().max_by_key(|(index, action)| (action.order(), *index)) else {
            return DefaultAction::Other;
        };
        let action = last.1;
        match action.r#type() {
            Some(ActionTypeEnum::Forward) => {
                let groups = elbv2::forwarded_to(action);
                match groups.as_slice() {
                    [] => DefaultAction::Other,
                    // Weighted forwarding to several groups reads as their list, which never equals one ARN.
                    groups => DefaultAction::Forward(groups.join(", ")),
                }
            }
            Some(ActionTypeEnum::Redirect)
                if action.redirect_config().and_then(RedirectActionConfig::protocol) == Some("HTTPS") =>
            {
                DefaultAction::RedirectToHttps
            }
            Some(ActionTypeEnum::FixedResponse)
                if action.fixed_response_config().and_then(FixedResponseActionConfig::status_code) == Some("404") =>
            {
                DefaultAction::NotFound
            }
            _ => DefaultAction::Other,
        }
    }
}

/// What the driver reads of one `Listener` answer.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Snapshot {
    pub arn: String,
    pub load_balancer: String,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub certificate_arn: Option<String>,
    pub ssl_policy: Option<String>,
    pub action: DefaultAction,
}

impl Snapshot {
    pub(super) fn from_aws(listener: &Listener) -> Option<Snapshot> {
        Some(Snapshot {
            arn: listener.listener_arn()?.to_string(),
            load_balancer: listener.load_balancer_arn().unwrap_or_default().to_string(),
            port: listener.port().map(i64::from),
            protocol: listener.protocol().map(|protocol| protocol.as_str().to_string()),
            certificate_arn: listener.certificates().iter().find_map(Certificate::certificate_arn).map(str::to_string),
            ssl_policy: listener.ssl_policy().map(str::to_string),
            action: DefaultAction::from_aws(listener.default_actions()),
        })
    }
}

fn snapshots(listeners: &[Listener]) -> Vec<(String, Snapshot)> {
    listeners.iter().filter_map(Snapshot::from_aws).map(|listener| (listener.arn.clone(), listener)).collect()
}

/// `DescribeListeners` for any number of listener ARNs (following pages), for [`elbv2::describe_many`].
pub(super) fn describe_by_arns(elb: &Client) -> Describe<'_, Snapshot> {
    Box::new(move |arns| {
        Box::pin(async move {
            let mut pages = elb.describe_listeners().set_listener_arns(Some(arns)).into_paginator().send();
            let mut found = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| crate::aws_error("DescribeListeners", error))?;
                found.extend(snapshots(page.listeners()));
            }
            Ok(found)
        })
    })
}

/// All listeners of one load balancer; none when the load balancer is gone.
pub(super) async fn listeners_of(elb: &Client, load_balancer: &str) -> Result<Vec<Snapshot>, DriverError> {
    let mut pages = elb.describe_listeners().load_balancer_arn(load_balancer).into_paginator().send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        match page.map_err(|error| crate::aws_error("DescribeListeners", error)) {
            Ok(page) => found.extend(snapshots(page.listeners()).into_iter().map(|(_, listener)| listener)),
            Err(error) if elbv2::is_not_found(&error) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        }
    }
    Ok(found)
}

fn port(config: &ListenerConfig) -> Result<i32, DriverError> {
    i32::try_from(config.port).map_err(|_| DriverError::invalid(format!("`port` is out of range: {}", config.port)))
}

/// The certificate list to send: only an HTTPS listener takes one.
fn certificates(config: &ListenerConfig) -> Option<Vec<Certificate>> {
    let arn = config.certificate_arn()?;
    (config.protocol == "HTTPS").then(|| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// Creates the listener. An HTTPS listener created right after its certificate may be refused with
/// `CertificateNotFound` while the certificate propagates: that answer is retried, bounded
/// ([`behaviours::elbv2::LISTENER_CHANGE`]).
pub(super) async fn create(
    elb: &Client,
    config: &ListenerConfig,
    tags: &BTreeMap<String, String>,
) -> Result<Snapshot, DriverError> {
    create_within(elb, config, tags, behaviours::elbv2::LISTENER_CHANGE).await
}

async fn create_within(
    elb: &Client,
    config: &ListenerConfig,
    tags: &BTreeMap<String, String>,
    retry: Retry,
) -> Result<Snapshot, DriverError> {
    let call = elb
        .create_listener()
        .load_balancer_arn(&config.load_balancer)
        .port(port(config)?)
        .protocol(ProtocolEnum::from(config.protocol.as_str()))
        .set_certificates(certificates(config))
        .set_ssl_policy(config.ssl_policy().map(str::to_string))
        .default_actions(config.default_action().to_aws())
        .set_tags(Some(elbv2::tag_list(tags)));
    let output = retry
        .run(|| {
            let call = call.clone();
            async move { call.send().await.map_err(|error| crate::aws_error("CreateListener", error)) }
        })
        .await?;
    output
        .listeners()
        .first()
        .and_then(Snapshot::from_aws)
        .ok_or_else(|| DriverError::invalid("CreateListener answered without a listener"))
}

/// Sets port, protocol, certificate and default action together: they only make sense as a whole
/// (an HTTPS listener needs its certificate, a redirect needs a non-HTTPS listener). A certificate
/// issued moments ago is retried like on create.
pub(super) async fn modify(elb: &Client, arn: &str, config: &ListenerConfig) -> Result<(), DriverError> {
    modify_within(elb, arn, config, behaviours::elbv2::LISTENER_CHANGE).await
}

async fn modify_within(elb: &Client, arn: &str, config: &ListenerConfig, retry: Retry) -> Result<(), DriverError> {
    let call = elb
        .modify_listener()
        .listener_arn(arn)
        .port(port(config)?)
        .protocol(ProtocolEnum::from(config.protocol.as_str()))
        .set_certificates(certificates(config))
        .set_ssl_policy(config.ssl_policy().map(str::to_string))
        .default_actions(config.default_action().to_aws());
    retry
        .run(|| {
            let call = call.clone();
            async move { call.send().await.map_err(|error| crate::aws_error("ModifyListener", error)) }
        })
        .await?;
    Ok(())
}

/// Deletes the listener; one that is already gone (with its load balancer, say) counts as deleted.
pub(super) async fn delete(elb: &Client, arn: &str) -> Result<(), DriverError> {
    match elb.delete_listener().listener_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => elbv2::gone_is_deleted(crate::aws_error("DeleteListener", error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{ForwardActionConfig, TargetGroupTuple};

    #[test]
    fn actions_survive_a_round_trip() {
        for action in [DefaultAction::Forward("arn:tg".into()), DefaultAction::RedirectToHttps, DefaultAction::NotFound]
        {
            assert_eq!(DefaultAction::from_aws(&[action.to_aws()]), action);
        }
    }

    /// The emulator is always consistent, so the certificate's propagation is played by the SDK's
    /// mocks: the first `CreateListener` is refused with `CertificateNotFound`, the second succeeds.
    #[tokio::test]
    async fn a_listener_right_after_its_certificate_is_retried_until_the_certificate_is_found() {
        use aws_sdk_elasticloadbalancingv2::operation::create_listener::{CreateListenerError, CreateListenerOutput};
        use aws_sdk_elasticloadbalancingv2::types::error::CertificateNotFoundException;
        use aws_sdk_elasticloadbalancingv2::types::Listener;
        use aws_smithy_mocks::mock;

        let not_found = mock!(Client::create_listener).then_error(|| {
            let message = "Certificate 'arn:aws:acm:us-east-1:1:certificate/new' not found";
            CreateListenerError::CertificateNotFoundException(
                CertificateNotFoundException::builder()
                    .message(message)
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("CertificateNotFound")
                            .message(message)
                            .build(),
                    )
                    .build(),
            )
        });
        let created = mock!(Client::create_listener).then_output(|| {
            CreateListenerOutput::builder()
                .listeners(
                    Listener::builder()
                        .listener_arn("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/1/2")
                        .load_balancer_arn("arn:lb")
                        .port(443)
                        .protocol(ProtocolEnum::Https)
                        .build(),
                )
                .build()
        });
        let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&not_found, &created]);
        let config = ListenerConfig::from_inputs(
            serde_json::json!({
                "load_balancer": "arn:lb", "port": 443, "protocol": "HTTPS",
                "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/new", "forward": "arn:tg"
            })
            .as_object()
            .expect("object"),
        )
        .expect("config");
        let fast = behaviours::elbv2::LISTENER_CHANGE.within(behaviours::Bound::TEST);
        let snapshot = create_within(&elb, &config, &BTreeMap::new(), fast).await.expect("created on the second try");
        assert_eq!(snapshot.arn, "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/1/2");
        assert_eq!(not_found.num_calls(), 1);
        assert_eq!(created.num_calls(), 1);
    }

    #[test]
    fn forward_config_and_order_are_understood() {
        let tuple = |arn: &str| TargetGroupTuple::builder().target_group_arn(arn).build();
        let weighted = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .order(2)
            .forward_config(
                ForwardActionConfig::builder().target_groups(tuple("arn:a")).target_groups(tuple("arn:b")).build(),
            )
            .build();
        let first = Action::builder().r#type(ActionTypeEnum::AuthenticateOidc).order(1).build();
        assert_eq!(DefaultAction::from_aws(&[weighted, first]), DefaultAction::Forward("arn:a, arn:b".into()));
        let redirect_elsewhere = Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(RedirectActionConfig::builder().host("example.com").build())
            .build();
        assert_eq!(DefaultAction::from_aws(&[redirect_elsewhere]), DefaultAction::Other);
        assert_eq!(DefaultAction::from_aws(&[]), DefaultAction::Other);
    }

    /// `ModifyListener` onto a certificate issued moments ago: refused once, then accepted.
    #[tokio::test]
    async fn a_listener_moved_onto_a_new_certificate_is_retried_until_the_certificate_is_found() {
        use aws_sdk_elasticloadbalancingv2::operation::modify_listener::{ModifyListenerError, ModifyListenerOutput};
        use aws_sdk_elasticloadbalancingv2::types::error::CertificateNotFoundException;
        use aws_smithy_mocks::mock;

        let not_found = mock!(Client::modify_listener).then_error(|| {
            ModifyListenerError::CertificateNotFoundException(
                CertificateNotFoundException::builder()
                    .message("Certificate not found")
                    .meta(aws_smithy_types::error::ErrorMetadata::builder().code("CertificateNotFound").build())
                    .build(),
            )
        });
        let modified = mock!(Client::modify_listener).then_output(|| ModifyListenerOutput::builder().build());
        let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&not_found, &modified]);
        let config = ListenerConfig::from_inputs(
            serde_json::json!({
                "load_balancer": "arn:lb", "port": 443, "protocol": "HTTPS",
                "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/new", "forward": "arn:tg"
            })
            .as_object()
            .expect("object"),
        )
        .expect("config");
        let fast = behaviours::elbv2::LISTENER_CHANGE.within(behaviours::Bound::TEST);
        modify_within(&elb, "arn:listener", &config, fast).await.expect("modified on the second try");
        assert_eq!((not_found.num_calls(), modified.num_calls()), (1, 1));
    }
}
