//! Where a stack's state is kept (`[state]`): a local file, or an S3 object shared by a team.
//!
//! The S3 form carries the settings its backend needs (the bucket's region, the lock's lease length,
//! the KMS key the object is encrypted with); they are checked offline here, so a typo in a bucket
//! name or a duration is a `validate` error with a line and column, not an AWS error mid-run.

use std::path::PathBuf;
use std::time::Duration;

/// The lease length of an S3 state lock unless `[state] lock_ttl` says otherwise.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq)]
pub enum StateLocation {
    Local(PathBuf),
    S3(S3Location),
}

/// `[state] s3 = "s3://BUCKET/KEY"` and its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    /// The bucket's region, when it is not the stack's.
    pub region: Option<String>,
    /// How long a lock lasts unless its holder renews it.
    pub lock_ttl: Duration,
    /// Encrypt the state with this KMS key (`aws:kms`) instead of S3-managed keys (`AES256`).
    pub kms_key: Option<String>,
}

impl S3Location {
    /// A location with default settings.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> S3Location {
        S3Location { bucket: bucket.into(), key: key.into(), region: None, lock_ttl: DEFAULT_LOCK_TTL, kms_key: None }
    }

    /// `s3://BUCKET/KEY`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The lock object's key.
    pub fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }
}

impl StateLocation {
    /// A location as given on the command line (`state migrate --to`): `s3://BUCKET/KEY` or a path.
    pub fn parse(text: &str) -> Result<StateLocation, String> {
        if text.starts_with("s3://") {
            let (bucket, key) = parse_s3_url(text)?;
            return Ok(StateLocation::S3(S3Location::new(bucket, key)));
        }
        if text.is_empty() {
            return Err("the state location is empty".into());
        }
        Ok(StateLocation::Local(PathBuf::from(text)))
    }

    /// For messages: the path or the URL.
    pub fn describe(&self) -> String {
        match self {
            StateLocation::Local(path) => path.display().to_string(),
            StateLocation::S3(s3) => s3.url(),
        }
    }
}

/// Splits `s3://BUCKET/KEY`, checking the bucket name against S3's rules and that a key is there.
pub fn parse_s3_url(text: &str) -> Result<(String, String), String> {
    let shape = "write `s3://BUCKET/KEY`, e.g. `s3://my-team-state/shop/prod.json`";
    let Some(rest) = text.strip_prefix("s3://") else {
        return Err(format!("`{text}` is not an S3 location; {shape}"));
    };
    let Some((bucket, key)) = rest.split_once('/') else {
        return Err(format!("`{text}` names a bucket but no key; {shape}"));
    };
    check_bucket_name(bucket).map_err(|problem| format!("`{text}`: {problem}"))?;
    if key.is_empty() || key.ends_with('/') {
        return Err(format!("`{text}` names no object (the key is empty or ends with `/`); {shape}"));
    }
    if key.len() > 1000 {
        return Err(format!("`{text}`: the key is longer than S3 allows (1,024 bytes, with room for `.lock`)"));
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// S3's bucket naming rules (general purpose buckets).
/// [`parse_s3_url`] as a descriptor's check.
pub fn check_s3_url(text: &str) -> Result<(), String> {
    parse_s3_url(text).map(|_| ())
}

/// [`parse_duration`] as a descriptor's check.
pub fn check_duration(text: &str) -> Result<(), String> {
    parse_duration(text).map(|_| ())
}

pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    let rules = "a bucket name is 3 to 63 characters: lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit";
    let valid_characters = bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !valid_characters || !ends_ok || bucket.contains("..") {
        return Err(format!("`{bucket}` is not a valid bucket name: {rules}"));
    }
    if bucket.split('.').count() == 4 && bucket.split('.').all(|part| part.parse::<u8>().is_ok()) {
        return Err(format!("`{bucket}` is not a valid bucket name: it must not look like an IP address"));
    }
    Ok(())
}

/// The longest duration provision takes anywhere (a wait, a lease, a timeout): longer ones are a
/// typo, and a clock cannot add them to its present without overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// `30s`, `5m`, `1h` (a bare number is seconds), at most a year ([`MAX_DURATION`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shape = || format!("`{text}` is not a duration like `30s`, `5m` or `1h`");
    let multiplier = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(shape()),
    };
    let too_long = || format!("`{text}` is longer than provision waits for anything (a year at most)");
    // Digits alone can still be too many for a number: that is too long, not malformed.
    let value: u64 = match number.parse() {
        Ok(value) => value,
        Err(_) if !number.is_empty() => return Err(too_long()),
        Err(_) => return Err(shape()),
    };
    match value.checked_mul(multiplier).map(Duration::from_secs) {
        Some(duration) if duration <= MAX_DURATION => Ok(duration),
        _ => Err(too_long()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_need_a_valid_bucket_and_a_key() {
        assert_eq!(
            parse_s3_url("s3://team-state/shop/prod.json").unwrap(),
            ("team-state".to_string(), "shop/prod.json".to_string())
        );
        for bad in
            ["s3://team-state", "s3://team-state/", "s3://Team/x.json", "s3://ab/x.json", "s3://-a-/x", "s3://a..b/x"]
        {
            assert!(parse_s3_url(bad).is_err(), "{bad}");
        }
        assert!(parse_s3_url("s3://192.168.1.1/x.json").unwrap_err().contains("IP address"));
    }

    #[test]
    fn a_location_on_the_command_line_is_a_path_or_an_s3_url() {
        assert_eq!(StateLocation::parse("state/app.json").unwrap(), StateLocation::Local("state/app.json".into()));
        let StateLocation::S3(s3) = StateLocation::parse("s3://team-state/app.json").unwrap() else { panic!() };
        assert_eq!((s3.lock_key(), s3.lock_ttl), ("app.json.lock".to_string(), DEFAULT_LOCK_TTL));
        assert!(StateLocation::parse("s3://nokey").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        for huge in ["18446744073709551615", "999999999999999999h", "99999999999999999999999", "367d", "9000h"] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
        assert!(parse_duration("18446744073709551615").unwrap_err().contains("a year at most"));
    }
}
