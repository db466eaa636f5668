//! Listings paged by hand (the SDK's paginators are streams with a channel of their own, ~11 KB
//! each, which hundreds of reads at once would hold).

/// The token to ask for the next page with: `None` when the answer gave none or an empty one, or
/// gave back the token just sent (as the SDK's paginators stop on a repeated token, instead of
/// asking forever).
pub(crate) fn next_token(answered: Option<&str>, sent: Option<&str>) -> Option<String> {
    answered.filter(|next| !next.is_empty() && Some(*next) != sent).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::next_token;

    #[test]
    fn a_listing_ends_without_a_token_or_with_an_empty_or_repeated_one() {
        assert_eq!(next_token(Some("t2"), Some("t1")).as_deref(), Some("t2"));
        assert_eq!(next_token(Some("t1"), None).as_deref(), Some("t1"));
        assert_eq!(next_token(None, Some("t1")), None);
        assert_eq!(next_token(Some(""), Some("t1")), None);
        assert_eq!(next_token(Some("t1"), Some("t1")), None);
    }
}
