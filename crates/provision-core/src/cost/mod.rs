//! The bill before the deploy: what each action adds to or takes off the monthly bill, and the
//! stack's monthly cost before and after the plan.
//!
//! It is computed from the plan's inputs and the state's (for "from"), against a dated price table
//! built into provision (`prices.toml`, see docs/cost.md): offline, the same on every machine, and
//! part of the plan value that the text, JSON and pull-request renderers show. Only what costs
//! money every hour whatever the traffic is counted; what depends on use is named instead.

mod price_table;
mod resource_cost;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use price_table::{PriceTable, RegionPrices};
pub use resource_cost::{resource_cost, CostItem, ResourceCost};

use crate::address::Address;
use crate::plan::{Action, PlannedAction};
use crate::state::{ResourceStatus, State};
use crate::value::JsonMap;

/// An action's effect on the monthly bill, in cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostChange {
    pub before: i64,
    pub after: i64,
}

impl CostChange {
    pub fn change(&self) -> i64 {
        self.after - self.before
    }
}

/// The plan's effect on the stack's monthly bill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanCost {
    pub region: String,
    /// The price table's date.
    pub prices_as_of: String,
    /// `false` when the table has no prices for the region: nothing below is counted.
    pub priced: bool,
    /// Cents a month before and after the plan.
    pub before: i64,
    pub after: i64,
    /// Charges that depend on use, named (what exists after the plan).
    pub usage: Vec<String>,
    /// Resources whose fixed cost could not be counted, and why.
    pub unpriced: Vec<(Address, String)>,
}

impl PlanCost {
    pub fn change(&self) -> i64 {
        self.after - self.before
    }
}

/// Prices every action of a plan (setting its `monthly_cost`) and the stack before and after.
/// `state` is the (refreshed) state the plan was made against.
pub fn estimate(region: &str, actions: &mut [PlannedAction], state: &State) -> PlanCost {
    let table = PriceTable::builtin();
    let Some(prices) = table.region(region) else {
        return PlanCost {
            region: region.to_string(),
            prices_as_of: table.as_of.clone(),
            priced: false,
            before: 0,
            after: 0,
            usage: Vec::new(),
            unpriced: Vec::new(),
        };
    };
    let price = |address: &Address, inputs: &JsonMap| resource_cost(table, prices, &address.type_name, inputs);
    let mut unpriced: Vec<(Address, String)> = Vec::new();
    let mut counted = |address: &Address, cost: ResourceCost| -> (i64, Vec<&'static str>) {
        if let Some(reason) = &cost.unpriced {
            if !unpriced.iter().any(|(a, _)| a == address) {
                unpriced.push((address.clone(), reason.clone()));
            }
        }
        (cost.cents(), cost.usage)
    };

    let mut before = 0;
    let mut usage_after: BTreeSet<&'static str> = BTreeSet::new();
    let recorded = state.resources.iter().filter(|(_, entry)| entry.status == ResourceStatus::Created);
    for (address, entry) in recorded.clone().chain(&state.deposed) {
        before += counted(address, price(address, &entry.inputs)).0;
    }
    // What no action touches stays as it is.
    for (address, entry) in recorded {
        if !actions.iter().any(|a| &a.address == address && !a.deposed) {
            usage_after.extend(counted(address, price(address, &entry.inputs)).1);
        }
    }
    let mut after = before;
    for action in actions.iter_mut() {
        let old =
            if action.deposed { state.deposed.get(&action.address) } else { state.resources.get(&action.address) };
        let old = old.filter(|entry| entry.status == ResourceStatus::Created || action.deposed);
        let old_cents = match (action.action, old) {
            (Action::Create, _) | (_, None) => 0,
            (_, Some(entry)) => counted(&action.address, price(&action.address, &entry.inputs)).0,
        };
        let new_cents = match action.action {
            Action::Delete => 0,
            _ => {
                let (cents, usage) = counted(&action.address, price(&action.address, &action.inputs));
                usage_after.extend(usage);
                cents
            }
        };
        after += new_cents - old_cents;
        action.monthly_cost = Some(CostChange { before: old_cents, after: new_cents });
    }
    let mut usage: Vec<String> = usage_after.into_iter().map(str::to_string).collect();
    if !usage.is_empty() {
        usage.push("data transfer out of AWS".to_string());
    }
    PlanCost {
        region: region.to_string(),
        prices_as_of: table.as_of.clone(),
        priced: true,
        before,
        after,
        usage,
        unpriced,
    }
}

/// `$1,234.56` (cents given).
pub fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

/// `+$36.04` or `-$12.41`: a change, always signed.
pub fn signed_dollars(cents: i64) -> String {
    if cents < 0 {
        dollars(cents)
    } else {
        format!("+{}", dollars(cents))
    }
}

/// A cent amount as a JSON number of dollars (`36.04`).
pub fn dollars_json(cents: i64) -> serde_json::Value {
    serde_json::Number::from_f64(cents as f64 / 100.0).map(serde_json::Value::Number).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ResourceState;
    use serde_json::json;

    fn entry(type_name: &str, inputs: serde_json::Value) -> ResourceState {
        ResourceState {
            type_name: type_name.into(),
            id: "id".into(),
            status: ResourceStatus::Created,
            inputs: inputs.as_object().unwrap().clone(),
            attributes: JsonMap::new(),
            dependencies: Vec::new(),
            protect: false,
        }
    }

    fn action(address: &Address, kind: Action, inputs: serde_json::Value) -> PlannedAction {
        let mut action = PlannedAction::new(address.clone(), kind, Vec::new(), Vec::new());
        action.inputs = inputs.as_object().unwrap().clone();
        action
    }

    #[test]
    fn each_action_shows_its_change_and_the_plan_its_total() {
        let service = Address::new("ecs_service", "api");
        let database = Address::new("db_instance", "main");
        let balancer = Address::new("load_balancer", "web");
        let mut state = State::new("shop");
        // $0.017 × 730 + 20 × $0.115 = $14.71
        state.resources.insert(
            database.clone(),
            entry("db_instance", json!({"engine": "mysql", "instance_class": "db.t3.micro", "allocated_storage": 20})),
        );
        // $0.0225 × 730 = $16.43 (16.425 rounds up)
        state.resources.insert(balancer.clone(), entry("load_balancer", json!({})));
        let mut actions = vec![
            // + 2 × 0.5 vCPU/1 GB tasks: $36.04
            action(&service, Action::Create, json!({"cpu": 512, "memory": 1024, "desired_count": 2})),
            // db.t3.micro → db.t3.small: $24.82 + $2.30 = $27.12, so +$12.41
            action(
                &database,
                Action::Update,
                json!({"engine": "mysql", "instance_class": "db.t3.small", "allocated_storage": 20}),
            ),
        ];
        let cost = estimate("us-east-1", &mut actions, &state);
        assert_eq!(actions[0].monthly_cost.unwrap().change(), 3604);
        assert_eq!(actions[1].monthly_cost.unwrap().change(), 1241);
        assert_eq!(cost.before, 1471 + 1643);
        assert_eq!(cost.after, 1471 + 1643 + 3604 + 1241);
        assert!(cost.usage.iter().any(|u| u.contains("load balancer capacity units")));
        assert!(cost.usage.iter().any(|u| u.contains("data transfer out")));
        assert!(cost.unpriced.is_empty());
    }

    #[test]
    fn a_delete_takes_its_cost_off_and_a_region_without_prices_says_so() {
        let balancer = Address::new("load_balancer", "web");
        let mut state = State::new("shop");
        state.resources.insert(balancer.clone(), entry("load_balancer", json!({})));
        let mut actions = vec![PlannedAction::new(balancer.clone(), Action::Delete, Vec::new(), Vec::new())];
        let cost = estimate("us-east-1", &mut actions, &state);
        assert_eq!((cost.before, cost.after), (1643, 0));
        assert_eq!(actions[0].monthly_cost.unwrap().change(), -1643);
        let elsewhere = estimate("sa-east-1", &mut actions, &state);
        assert!(!elsewhere.priced);
    }

    /// `stacks/webapp.toml` moved into a network of its own (`[vpc.main]` with two AZs and one NAT
    /// gateway, `[network] vpc = "${vpc.main.id}"`), priced field by field as its plan would be:
    /// - ecs_service.api, 3 × (0.5 vCPU, 1 GB), private subnets, no public IP: $54.06
    /// - load_balancer.web: $16.43
    /// - db_instance.main, db.t3.micro MySQL, 20 GB, managed password: $12.41 + $2.30 + $0.40 = $15.11
    /// - vpc.main: one NAT gateway $0.045 × 730 = $32.85, its Elastic IP $0.005 × 730 = $3.65;
    ///   the S3 gateway endpoint is free: $36.50
    /// Total: $122.10 a month.
    #[test]
    fn the_web_app_in_its_own_vpc_with_one_nat_gateway() {
        let state = State::new("webapp");
        let create = |address: &str, inputs: serde_json::Value| {
            let address: Address = address.parse().unwrap();
            action(&address, Action::Create, inputs)
        };
        let mut actions = vec![
            create("vpc.main", json!({"cidr": "10.0.0.0/16", "azs": 2, "nat": "single", "endpoints": ["s3"]})),
            create(
                "ecs_service.api",
                json!({"cpu": 512, "memory": 1024, "desired_count": 3, "assign_public_ip": false}),
            ),
            create("load_balancer.web", json!({"internal": false, "idle_timeout": 60})),
            create(
                "db_instance.main",
                json!({"engine": "mysql", "instance_class": "db.t3.micro", "allocated_storage": 20,
                       "manage_password": true, "multi_az": false}),
            ),
            create("cloudfront_distribution.cdn", json!({"price_class": "PriceClass_100"})),
            create("s3_bucket.site", json!({})),
            create("iam_role.task_execution", json!({})),
            create("security_group.alb", json!({})),
        ];
        let cost = estimate("us-east-1", &mut actions, &state);
        let change = |i: usize| actions[i].monthly_cost.unwrap().change();
        assert_eq!([change(0), change(1), change(2), change(3)], [3650, 5406, 1643, 1511]);
        assert_eq!((cost.before, cost.after), (0, 12210));
        assert!(cost.usage.iter().any(|u| u.contains("NAT gateway data processing")), "{:?}", cost.usage);
    }

    #[test]
    fn money_reads_as_dollars_and_cents() {
        assert_eq!(dollars(123456789), "$1,234,567.89");
        assert_eq!(dollars(5), "$0.05");
        assert_eq!(signed_dollars(3604), "+$36.04");
        assert_eq!(signed_dollars(-1241), "-$12.41");
        assert_eq!(dollars_json(3604), json!(36.04));
    }
}
