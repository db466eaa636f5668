//! Test clients answered by `aws-smithy-mocks` rules, for the states the emulator cannot reach
//! (propagation errors, deployments that fail, answers lost after a stored write). Built by hand
//! rather than with the SDK's `mock_client!`, which needs each SDK crate's `test-util` feature.

/// `mock_client!(aws_sdk_ecs, rules)`: a client of that SDK crate in us-east-1 whose requests are
/// answered by `rules` (an iterable of `&Rule`) in order. Further config builder calls may follow:
/// `mock_client!(aws_sdk_s3, rules, retry_config(RetryConfig::disabled()))`.
macro_rules! mock_client {
    ($krate:ident, $rules:expr $(, $call:ident($($arg:expr),*))* $(,)?) => {{
        let interceptor = $rules.into_iter().fold(
            aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::Sequential),
            |interceptor, rule| interceptor.with_rule(rule),
        );
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .credentials_provider($krate::config::Credentials::new("test", "test", None, None, "mock"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                $(.$call($($arg),*))*
                .build(),
        )
    }};
}
