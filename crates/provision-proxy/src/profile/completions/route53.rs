//! Route 53's `CREATE` of a record that is not there, which moto 5.1.22 can refuse. moto checks its
//! journal of changes for an identical earlier `CREATE` (a record made and deleted before: the
//! second life of a stack whose names are the same each time) and then lists the zone *from* that
//! name and type, so any record sorting after it reads as "already exists". AWS refuses a `CREATE`
//! only when that name and type exist. The profile looks first (`ListResourceRecordSets` from the
//! name and type, one item) and passes a `CREATE` of a record that is not there on as an `UPSERT`,
//! which makes the same record. A `CREATE` of a record that is there is refused by the profile as
//! AWS refuses it (`InvalidChangeBatch`, "… but it already exists"): moto takes one whose journal
//! it does not match, and makes the record twice (the SDK's retry of a `CREATE` whose answer was
//! lost, in a stack's second life).

use std::collections::HashSet;

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::error;
use super::super::xml::Element;
use super::super::{State, Turn};

pub(crate) const ID: &str = "complete.route53.create-after-delete";

#[derive(Debug, Default)]
pub(crate) struct Creates {
    /// `(zone, name, type)` of creates whose record the look found absent, until they are sent.
    absent: HashSet<(String, String, String)>,
    /// The same, of creates whose record the look found there, until they are answered.
    present: HashSet<(String, String, String)>,
}

/// A name as Route 53 compares it: lowercase, without the final dot.
fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The zone, name and type of a one-change batch that is a `CREATE`.
fn create_of(call: &Call) -> Option<(String, String, String)> {
    if call.operation != "ChangeResourceRecordSets" {
        return None;
    }
    let zone = call.path.trim_matches('/').split('/').nth(2)?.to_string();
    let root = Element::parse(&String::from_utf8_lossy(&call.body))?;
    let changes = root.find(&["ChangeBatch", "Changes"])?;
    let mut each = changes.elements().filter(|element| element.name == "Change");
    let (change, None) = (each.next()?, each.next()) else { return None };
    if change.child_text("Action")? != "CREATE" {
        return None;
    }
    let set = change.child("ResourceRecordSet")?;
    Some((zone, normal(&set.child_text("Name")?), set.child_text("Type")?))
}

/// The look a `CREATE` needs first: the zone's records from its name and type, one of them.
pub(crate) fn prerequisite(call: &Call) -> Option<String> {
    let (zone, name, record_type) = create_of(call)?;
    let name: String = name
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect();
    Some(format!("/2013-04-01/hostedzone/{zone}/rrset?name={name}&type={record_type}&maxitems=1"))
}

/// Learns from the look whether the record to create is absent.
pub(crate) fn learn(state: &mut State, call: &Call, response: &Response) {
    let Some(key) = create_of(call) else { return };
    let Some(root) = response.xml() else { return };
    let mut first = None;
    root.visit(&mut |element| {
        if first.is_none() && element.name == "ResourceRecordSet" {
            first = Some((normal(&element.child_text("Name").unwrap_or_default()), element.child_text("Type")));
        }
    });
    let present = first.is_some_and(|(name, record_type)| name == key.1 && record_type.as_deref() == Some(&key.2));
    let creates = &mut state.completions.record_creates;
    if present {
        creates.present.insert(key);
    } else {
        creates.absent.insert(key);
    }
}

/// A `CREATE` of a record the look found there: refused as AWS refuses it.
pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let key = create_of(call)?;
    if !state.completions.record_creates.present.remove(&key) || !turn.on(ID) {
        return None;
    }
    turn.meet(ID);
    let (_, name, record_type) = key;
    let message =
        format!("[Tried to create resource record set [name='{name}.', type='{record_type}'] but it already exists]");
    Some(error(call, 400, "InvalidChangeBatch", &message))
}

/// The body to send instead of the call's: the `CREATE` of a record the look found absent, as an
/// `UPSERT` (the same length, so the request's head holds).
pub(crate) fn rewrite(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Vec<u8>> {
    if !turn.on(ID) {
        return None;
    }
    let key = create_of(call)?;
    if !state.completions.record_creates.absent.remove(&key) {
        return None;
    }
    turn.meet(ID);
    let body = String::from_utf8_lossy(&call.body).replacen("<Action>CREATE</Action>", "<Action>UPSERT</Action>", 1);
    Some(body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::super::call::{call, signed};
    use super::super::super::{Before, Profile, ProfileOptions, Response};

    const CREATE: &str = "<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>ws.example.com</Name><Type>A</Type></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>";

    fn listing(name: &str, record_type: &str) -> Response {
        let body = format!("<ListResourceRecordSetsResponse><ResourceRecordSets><ResourceRecordSet><Name>{name}</Name><Type>{record_type}</Type></ResourceRecordSet></ResourceRecordSets></ListResourceRecordSetsResponse>");
        Response::new(200, "text/xml", body)
    }

    /// The look asks for the record by its name and type; a record that is not there (the listing
    /// starts at another) is created as an `UPSERT`, one that is there is sent as the `CREATE`.
    #[test]
    fn a_create_of_a_record_that_is_not_there_is_sent_as_an_upsert() {
        let profile = Profile::new(ProfileOptions::default());
        let auth = signed("route53");
        let create = call("POST", "/2013-04-01/hostedzone/Z1/rrset", &[("Authorization", &auth)], CREATE);
        let (head, _) = profile.prerequisite(&create).expect("a look first");
        assert!(head.starts_with("GET /2013-04-01/hostedzone/Z1/rrset?name=ws.example.com&type=A&maxitems=1 "));

        profile.learn(&create, &listing("zz.example.com.", "A"));
        let Before::Forward { body: Some(body), .. } = profile.before(&create) else { panic!("rewritten") };
        assert!(String::from_utf8(body).unwrap().contains("<Action>UPSERT</Action>"));
        assert_eq!(profile.met(super::ID), 1);

        profile.learn(&create, &listing("ws.example.com.", "A"));
        let Before::Answer(refused) = profile.before(&create) else { panic!("taken: refused as on AWS") };
        assert_eq!(refused.status, 400);
        assert!(
            refused.text().contains("<Code>InvalidChangeBatch</Code>") && refused.text().contains("already exists")
        );
        let upsert = call(
            "POST",
            "/2013-04-01/hostedzone/Z1/rrset",
            &[("Authorization", &auth)],
            &CREATE.replace("CREATE", "UPSERT"),
        );
        assert!(profile.prerequisite(&upsert).is_none(), "only creates are looked at");
    }
}
