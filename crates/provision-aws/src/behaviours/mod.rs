//! The AWS behaviours provision relies on or defends against, by name.
//!
//! AWS is eventually consistent, slow in places and protective of what is in use: a group made a
//! moment ago is "not found", a group whose load balancer was deleted a moment ago is "in use", a
//! distribution is `InProgress` for a quarter of an hour. Whether a first `apply` and a `destroy`
//! succeed depends on meeting each of those answers with the right patience — no more (a real
//! mistake must fail at once), no less.
//!
//! So every such answer is named here, once, with its evidence, and the drivers use the names:
//! an [`Answer`] is an AWS error (code, and a part of the message where the code says too little);
//! a [`Retry`] is the answers that mean "try again" with the [`Bound`] AWS documents for them; a
//! [`Wait`] is a lifecycle waited out with a status function ([`Look`]), a poll interval and a
//! timeout; [`adopt`] recognises a create's own result after a lost answer. Each constant's id is a
//! row of `docs/aws-behaviours.md` and a rule of the proxy's "AWS as it behaves" profile, so the
//! catalogue, the code and the test world say the same thing. The per-service modules mirror
//! terraform-provider-aws's `errors.go` / `wait.go`, whose functions are cited as evidence.
//!
//! All times are AWS times; [`pace`] divides them by `PROVISION_TIME_SCALE` in the time-scaled
//! test world.

mod answer;
mod retry;
mod wait;

pub mod adopt;
pub mod pace;

pub mod acm;
pub mod cloudfront;
pub mod ec2;
pub mod ecs;
pub mod elasticache;
pub mod elbv2;
pub mod iam;
pub mod rds;
pub mod route53;
pub mod s3;

pub use answer::Answer;
pub use retry::{Bound, Retry};
pub use wait::{Look, Wait, Waiter};

#[cfg(test)]
mod tests {
    /// The per-service modules, as written: every id they name is a row of the catalogue.
    const MODULES: [&str; 11] = [
        include_str!("acm.rs"),
        include_str!("adopt.rs"),
        include_str!("cloudfront.rs"),
        include_str!("ec2.rs"),
        include_str!("ecs.rs"),
        include_str!("elasticache.rs"),
        include_str!("elbv2.rs"),
        include_str!("iam.rs"),
        include_str!("rds.rs"),
        include_str!("route53.rs"),
        include_str!("s3.rs"),
    ];

    #[test]
    fn every_behaviour_named_in_code_is_a_row_of_the_catalogue() {
        let catalogue = include_str!("../../../../docs/aws-behaviours.md");
        let ids: Vec<&str> = MODULES
            .iter()
            .flat_map(|module| module.split("id: \"").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(ids.len() >= 30, "the ids were found: {ids:?}");
        for id in ids {
            assert!(catalogue.contains(&format!("| `{id}` |")), "`{id}` is not a row of docs/aws-behaviours.md");
        }
    }
}
