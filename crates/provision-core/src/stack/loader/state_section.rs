//! `[state]`: a local `path`, or `s3` with the settings only an S3 state has (`region`, `lock_ttl`,
//! `kms_key`). Everything is checked offline: the descriptors check each literal value (the URL's
//! shape and bucket name, the duration); here what needs variables or more than one field.

use std::time::Duration;

use super::*;
use crate::stack::{parse_duration, parse_s3_url, S3Location, DEFAULT_LOCK_TTL};

/// A lease shorter than this leaves no room to renew it over a slow network, and lets a holder
/// whose clock or network hiccups lose the lock to another run mid-apply.
const MIN_LOCK_TTL: Duration = Duration::from_secs(30);

impl Loader<'_> {
    /// `[state]`, from its checked values; `${stack.name}` is known here already (a stack per pull
    /// request keeps its own state).
    pub(super) fn state(
        &mut self,
        section: &SpannedExpr,
        stack_name: &str,
        variables: &BTreeMap<String, Value>,
    ) -> Option<StateLocation> {
        let mut path = None;
        let mut s3: Option<(S3Location, Range<usize>)> = None;
        let mut region = None;
        let mut lock_ttl = None;
        let mut kms_key = None;
        for (name, value) in entries(section) {
            let Some((text, span)) = self.resolved_text(value, variables, Some(stack_name)) else { continue };
            match name.as_str() {
                "path" => path = Some((PathBuf::from(text), span)),
                "s3" => match parse_s3_url(&text) {
                    Ok((bucket, key)) => s3 = Some((S3Location::new(bucket, key), span)),
                    Err(problem) => self.error(
                        Diagnostic::error(problem, Some(span)).hint("write `s3 = \"s3://BUCKET/KEY.json\"`"),
                    ),
                },
                "region" => match super::super::region::region_problem(&text) {
                    Some(problem) => self.error(
                        Diagnostic::error(problem, Some(span))
                            .hint("write the bucket's region, e.g. `region = \"eu-west-1\"`"),
                    ),
                    None => region = Some((text, span)),
                },
                "lock_ttl" => match parse_duration(&text) {
                    Ok(ttl) if ttl >= MIN_LOCK_TTL => lock_ttl = Some((ttl, span)),
                    Ok(_) => self.error(
                        Diagnostic::error(format!("`lock_ttl = \"{text}\"` is too short"), Some(span))
                            .hint("the lease is renewed every third of it; use at least `30s` (the default, `5m`, suits most teams)"),
                    ),
                    Err(problem) => self.error(Diagnostic::error(problem, Some(span)).hint("e.g. `lock_ttl = \"5m\"`")),
                },
                _ => {
                    if text.is_empty() {
                        self.error(Diagnostic::error("`kms_key` is empty", Some(span)).hint(
                            "give a KMS key id, ARN or alias (`alias/terraform-state`), or leave it out for S3-managed keys (AES256)",
                        ));
                    } else {
                        kms_key = Some((text, span));
                    }
                }
            }
        }
        if let (Some((_, path_span)), Some(_)) = (&path, &s3) {
            self.error(
                Diagnostic::error("`[state]` has both `path` and `s3`", Some(path_span.clone()))
                    .hint("keep one: `path` for a local file, `s3` for a state the team shares"),
            );
            return None;
        }
        let Some((mut location, _)) = s3 else {
            for (field, span) in [
                region.map(|(_, span)| ("region", span)),
                lock_ttl.map(|(_, span)| ("lock_ttl", span)),
                kms_key.map(|(_, span)| ("kms_key", span)),
            ]
            .into_iter()
            .flatten()
            {
                self.error(
                    Diagnostic::error(format!("`{field}` applies only to an S3 state"), Some(span))
                        .hint("add `s3 = \"s3://BUCKET/KEY.json\"` (move a local state there with `provision state migrate --to s3://…`), or remove it"),
                );
            }
            let path = path.map(|(path, _)| path);
            return Some(StateLocation::Local(
                path.unwrap_or_else(|| PathBuf::from("state").join(format!("{stack_name}.json"))),
            ));
        };
        location.region = region.map(|(region, _)| region);
        location.lock_ttl = lock_ttl.map(|(ttl, _)| ttl).unwrap_or(DEFAULT_LOCK_TTL);
        location.kms_key = kms_key.map(|(key, _)| key);
        Some(StateLocation::S3(location))
    }
}

#[cfg(test)]
mod tests {
    use crate::driver::DriverRegistry;
    use crate::stack::{load, LoadOptions, S3Location, StateLocation, DEFAULT_LOCK_TTL};

    fn load_text(text: &str) -> Result<StateLocation, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, &LoadOptions::default(), &DriverRegistry::new(Vec::new()))
            .map(|stack| stack.state)
            .map_err(|error| error.render(false))
    }

    #[test]
    fn an_s3_state_with_its_settings() {
        let state = load_text(
            "[stack]\nname = \"shop\"\n[state]\ns3 = \"s3://team-state/${stack.name}/prod.json\"\nregion = \"eu-west-1\"\nlock_ttl = \"2m\"\nkms_key = \"alias/state\"\n",
        )
        .unwrap();
        let expected = S3Location {
            bucket: "team-state".into(),
            key: "shop/prod.json".into(),
            region: Some("eu-west-1".into()),
            lock_ttl: std::time::Duration::from_secs(120),
            kms_key: Some("alias/state".into()),
        };
        assert_eq!(state, StateLocation::S3(expected));
        let plain = load_text("[stack]\nname = \"shop\"\n[state]\ns3 = \"s3://team-state/prod.json\"\n").unwrap();
        assert!(matches!(plain, StateLocation::S3(ref s3) if s3.lock_ttl == DEFAULT_LOCK_TTL && s3.kms_key.is_none()));
    }

    #[test]
    fn bad_settings_are_errors_at_their_line() {
        let error = load_text("[stack]\nname = \"shop\"\n[state]\ns3 = \"s3://Team_State/prod.json\"\n").unwrap_err();
        assert!(error.contains("not a valid bucket name") && error.contains("stack.toml:4:"), "{error}");
        let error =
            load_text("[stack]\nname = \"shop\"\n[state]\ns3 = \"s3://team-state/p.json\"\nlock_ttl = \"5 minutes\"\n")
                .unwrap_err();
        assert!(error.contains("not a duration") && error.contains("stack.toml:5:"), "{error}");
        let error =
            load_text("[stack]\nname = \"shop\"\n[state]\npath = \"s.json\"\nkms_key = \"alias/x\"\n").unwrap_err();
        assert!(error.contains("applies only to an S3 state"), "{error}");
        let error =
            load_text("[stack]\nname = \"shop\"\n[state]\npath = \"s.json\"\ns3 = \"s3://team-state/p.json\"\n")
                .unwrap_err();
        assert!(error.contains("both `path` and `s3`"), "{error}");
        let error = load_text("[stack]\nname = \"shop\"\n[state]\nlock_tll = \"5m\"\n").unwrap_err();
        assert!(error.contains("unknown field `lock_tll`") && error.contains("lock_ttl"), "{error}");
    }
}
