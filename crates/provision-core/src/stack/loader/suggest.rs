//! "Did you mean …?": the nearest known name to a misspelt one.

use super::Diagnostic;

pub(super) fn with_suggestion(diagnostic: Diagnostic, name: &str, known: &[&str], what: &str) -> Diagnostic {
    match closest(name, known) {
        Some(best) => diagnostic.hint(format!("did you mean `{best}`?")),
        None if !known.is_empty() && known.len() <= 30 => diagnostic
            .hint(format!("known {what}: {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))),
        None => diagnostic,
    }
}

/// A "did you mean" hint when a known name is close; nothing otherwise.
pub(super) fn did_you_mean(diagnostic: Diagnostic, name: &str, known: &[&str]) -> Diagnostic {
    match closest(name, known) {
        Some(best) => diagnostic.hint(format!("did you mean `{best}`?")),
        None => diagnostic,
    }
}

pub(super) fn suggestion_suffix(name: &str, known: &[&str]) -> String {
    closest(name, known).map(|best| format!(", or did you mean `{best}`?")).unwrap_or_default()
}

fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(name.len()) / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_nearest_known_name() {
        assert_eq!(closest("versionin", &["versioning", "bucket", "upload"]), Some("versioning"));
        assert_eq!(closest("zzz", &["versioning", "bucket"]), None);
    }
}
