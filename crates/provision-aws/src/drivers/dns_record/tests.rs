//! The record's logic against answers written here: what is taken over, what is ours.

use super::*;

fn values(json: Json) -> BTreeMap<String, Value> {
    json.as_object().expect("object").iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
}

fn problems(json: Json) -> Vec<String> {
    RecordDriver.check(&values(json)).into_iter().map(|p| format!("{}: {}", p.field, p.message)).collect()
}

#[test]
fn alias_or_records_not_both_and_not_neither() {
    let alias = serde_json::json!({ "name": "lb.example.com", "zone_id": "Z1" });
    assert!(problems(serde_json::json!({ "type": "A", "alias": alias, "records": [] })).is_empty());
    assert!(problems(serde_json::json!({ "type": "A", "records": ["192.0.2.1"] })).is_empty());
    assert_eq!(
        problems(serde_json::json!({ "type": "A", "alias": alias, "records": ["192.0.2.1"] })),
        vec!["records: a record answers with an `alias` or with `records`, not both"]
    );
    assert_eq!(
        problems(serde_json::json!({ "type": "A", "records": [] })),
        vec!["records: the record has nothing to answer with"]
    );
    let mut unknown = values(serde_json::json!({ "type": "A", "records": [] }));
    unknown.insert("alias".into(), Value::Unknown);
    assert!(RecordDriver.check(&unknown).is_empty(), "an alias known only after apply is still an alias");
}

#[test]
fn values_must_fit_the_type() {
    assert_eq!(
        problems(serde_json::json!({ "type": "A", "records": ["ws.example.com"] })),
        vec!["records: `ws.example.com` is not an IPv4 address, as a `A` record needs"]
    );
    assert!(problems(serde_json::json!({ "type": "AAAA", "records": ["2001:db8::1"] })).is_empty());
    assert_eq!(
        problems(serde_json::json!({ "type": "CNAME", "records": ["a.example.com", "b.example.com"] })),
        vec!["records: a CNAME record has exactly one value"]
    );
    let alias = serde_json::json!({ "name": "lb.example.com", "zone_id": "Z1" });
    assert_eq!(
        problems(serde_json::json!({ "type": "TXT", "alias": alias, "records": [] })),
        vec!["alias: only `A` and `AAAA` records can be aliases here"]
    );
    assert_eq!(
        problems(serde_json::json!({ "type": "A", "records": ["192.0.2.1"], "ttl": -1 })),
        vec!["ttl: must be between 0 and 2147483647 seconds, got -1"]
    );
}

#[test]
fn ids_are_zone_name_and_type() {
    assert_eq!(record_id("/hostedzone/Z1", "WS.example.com.", "a"), "Z1/ws.example.com/A");
    assert_eq!(parse_id("Z1/ws.example.com/A"), Some(("Z1", "ws.example.com", "A")));
    assert_eq!(parse_id("Z1/ws.example.com"), None);
    assert_eq!(parse_id("nonsense"), None);
}

#[test]
fn prepare_spells_inputs_as_route53_reads_them_back() {
    let mut inputs = serde_json::json!({
        "zone": "/hostedzone/Z1", "name": "WS.Example.com.", "type": "TXT", "records": ["\"b\"", "a"], "ttl": 300,
        "alias": { "name": "Shop-1.elb.amazonaws.com.", "zone_id": "Z35" }
    })
    .as_object()
    .cloned()
    .unwrap();
    let stack = StackInfo { name: "s".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
    RecordDriver.prepare(&stack, &mut inputs).unwrap();
    assert_eq!(inputs["zone"], "Z1");
    assert_eq!(inputs["name"], "ws.example.com");
    assert_eq!(inputs["records"], serde_json::json!(["a", "b"]));
    assert_eq!(
        inputs["alias"],
        serde_json::json!({ "name": "shop-1.elb.amazonaws.com", "zone_id": "Z35", "evaluate_target_health": false })
    );
}

#[test]
fn what_is_sent_reads_back_as_the_same_inputs() {
    let mut inputs = serde_json::json!({
        "zone": "Z1", "name": "txt.example.com", "type": "TXT", "records": ["v=spf1 -all", "say \"hi\""],
        "ttl": 60
    })
    .as_object()
    .cloned()
    .unwrap();
    let stack = StackInfo { name: "s".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
    RecordDriver.prepare(&stack, &mut inputs).unwrap();
    let config = RecordConfig::from_inputs(&inputs).unwrap();
    let sent = config.record_set().to_aws().unwrap();
    assert!(sent.resource_records().iter().all(|r| r.value().starts_with('"')), "TXT values go quoted");
    let read = observed(&config.id(), &RecordSet::from_aws(&sent));
    for field in ["zone", "name", "type", "records", "ttl"] {
        assert_eq!(read.inputs[field], inputs[field], "{field}");
    }
    assert_eq!(read.inputs["alias"], Json::Null);
    assert_eq!(read.attributes["fqdn"], "txt.example.com");
}
