//! Sequential round trips: the longest chain of requests in which each one started after the one
//! before it had ended. Requests that overlap in time ran concurrently and share a round trip, so
//! with a fixed latency per request this — not the request count — is what the wall time is made of.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// One request the proxy handled: what it was and when (measured from the proxy's start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The operation (`X-Amz-Target` or `Action=`), else `METHOD /path?query` (S3, CloudFront).
    pub operation: String,
    pub start: Duration,
    pub end: Duration,
}

/// A request that starts within this much of another's end is taken to follow it: the proxy notes
/// the end only after writing the answer, so the caller may already have sent its next request.
const SLACK: Duration = Duration::from_millis(2);

/// The longest chain of spans each starting after the previous one ended (dynamic programming over
/// the intervals, in order of start: a span's chain is one more than the longest chain among those
/// that ended before it started). 0 for no spans.
pub fn round_trips(spans: &[Span]) -> usize {
    critical_chain(spans).len()
}

/// One longest chain itself (see [`round_trips`]), first request first: what a scenario waited
/// for, one round trip after another.
pub fn critical_chain(spans: &[Span]) -> Vec<Span> {
    let mut by_start: Vec<&Span> = spans.iter().collect();
    by_start.sort_by_key(|span| span.start);
    // Ended spans not yet counted, earliest end first, with their chain lengths and places.
    let mut pending: BinaryHeap<Reverse<(Duration, usize, usize)>> = BinaryHeap::new();
    // The longest chain among the spans ended so far: its length and its last span.
    let mut before: (usize, Option<usize>) = (0, None);
    let mut previous: Vec<Option<usize>> = vec![None; by_start.len()];
    let mut longest: (usize, Option<usize>) = (0, None);
    for (index, span) in by_start.iter().enumerate() {
        while let Some(Reverse((end, chain, place))) = pending.peek().copied() {
            if end > span.start + SLACK {
                break;
            }
            pending.pop();
            if chain > before.0 {
                before = (chain, Some(place));
            }
        }
        previous[index] = before.1;
        let chain = before.0 + 1;
        if chain > longest.0 {
            longest = (chain, Some(index));
        }
        pending.push(Reverse((span.end, chain, index)));
    }
    let mut chain = Vec::new();
    let mut at = longest.1;
    while let Some(index) = at {
        chain.push(by_start[index].clone());
        at = previous[index];
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, end: u64) -> Span {
        Span { operation: String::new(), start: Duration::from_millis(start), end: Duration::from_millis(end) }
    }

    #[test]
    fn overlapping_requests_share_a_round_trip_and_sequential_ones_add_up() {
        assert_eq!(round_trips(&[]), 0);
        // Three at once, then two at once, then one: three round trips.
        let spans = [span(0, 50), span(1, 52), span(2, 51), span(60, 110), span(61, 112), span(120, 170)];
        assert_eq!(round_trips(&spans), 3);
        // A long request alongside a chain of short ones: the chain counts.
        let spans = [span(0, 400), span(0, 50), span(60, 110), span(120, 170), span(180, 230)];
        assert_eq!(round_trips(&spans), 4);
        // Given in any order.
        let spans = [span(120, 170), span(0, 50), span(60, 110)];
        assert_eq!(round_trips(&spans), 3);
    }

    #[test]
    fn the_critical_chain_names_the_requests_waited_for() {
        let named = |operation: &str, start: u64, end: u64| Span { operation: operation.into(), ..span(start, end) };
        let spans = [
            named("GetCallerIdentity", 0, 70),
            named("CreateBucket", 0, 60),
            named("PutObject", 61, 110),
            named("CreateDistribution", 112, 170),
            named("ListTags", 0, 65),
        ];
        let chain: Vec<String> = critical_chain(&spans).into_iter().map(|span| span.operation).collect();
        assert_eq!(chain, ["CreateBucket", "PutObject", "CreateDistribution"]);
        assert!(critical_chain(&[]).is_empty());
    }
}
