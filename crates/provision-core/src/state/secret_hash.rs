//! How a secret is kept in the state and in plans: never in clear, only as a memory-hard hash that
//! tells whether the value changed.
//!
//! Anyone who can read a state or a saved plan (a plan-only CI role, a laptop's backup) must not be
//! able to test guesses of a password quickly. A plain salted SHA-256 costs an attacker nanoseconds
//! per guess; Argon2id (RFC 9106) with a per-value salt costs each guess the time and the memory
//! below, on every core the attacker has.
//!
//! Parameters: Argon2id v1.3, m = 19 MiB, t = 2, p = 1, a 16-byte random salt and a 32-byte
//! output — the OWASP Password Storage Cheat Sheet's first recommended setting. One hash takes
//! about 25 ms on one core of the machine this was measured on (release build; see
//! docs/security.md). The hash is stored as its PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`),
//! so a later change of parameters still reads the old ones.
//!
//! States written before this kept `sha256:SALT:HEX`: such a hash is still recognised (a value that
//! matches it is unchanged) and replaced by an Argon2id hash on the state's next write.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

/// Memory in KiB, iterations, lanes.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// The prefix of a hash written before Argon2id.
const LEGACY_PREFIX: &str = "sha256:";

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, Some(OUTPUT_LEN)).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A new Argon2id hash of `secret` with a fresh random salt.
pub fn new_hash(secret: &str) -> String {
    let mut bytes = [0u8; SALT_LEN];
    bytes.copy_from_slice(&uuid::Uuid::new_v4().into_bytes()[..SALT_LEN]);
    // 16 bytes always fit a salt; the fallback only keeps this total.
    let salt =
        SaltString::encode_b64(&bytes).unwrap_or_else(|_| SaltString::from_b64("c2FsdHNhbHRzYWx0").expect("salt"));
    match hasher().hash_password(secret.as_bytes(), &salt) {
        Ok(hash) => hash.to_string(),
        // Unreachable with these parameters (a secret longer than 4 GiB aside): still no clear text.
        Err(error) => format!("unhashable:{error}"),
    }
}

/// Whether `stored` is a hash of `secret` (Argon2id, or a hash written before it).
pub fn matches(secret: &str, stored: &str) -> bool {
    let key = (stored.to_string(), Sha256::digest(secret.as_bytes()).to_vec());
    if let Some(known) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return *known;
    }
    let result = if let Some(rest) = stored.strip_prefix(LEGACY_PREFIX) {
        match rest.split_once(':') {
            Some((salt, hash)) => hex::encode(Sha256::digest(format!("{salt}:{secret}").as_bytes())) == hash,
            None => false,
        }
    } else {
        match PasswordHash::new(stored) {
            Ok(parsed) if parsed.algorithm.as_str() == "argon2id" => {
                // The parameters come from the stored string: hashes made with other costs still verify.
                Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok()
            }
            _ => false,
        }
    };
    cache().lock().unwrap_or_else(|p| p.into_inner()).insert(key, result);
    result
}

/// Whether `stored` was made before Argon2id (or with weaker parameters than these), so the next
/// write should replace it.
pub fn is_outdated(stored: &str) -> bool {
    if stored.starts_with(LEGACY_PREFIX) {
        return true;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => {
            let params = Params::try_from(&parsed);
            parsed.algorithm.as_str() != "argon2id"
                || params.map_or(true, |p| p.m_cost() < MEMORY_KIB || p.t_cost() < ITERATIONS)
        }
        Err(_) => false,
    }
}

/// The hash to keep for `secret`, given the one kept before (if any). An unchanged secret keeps its
/// hash exactly (so the plan shows no change), unless that hash is outdated; a changed or new one
/// gets a new hash with a new salt.
pub fn secret_hash(secret: &str, previous: Option<&str>) -> String {
    match previous {
        Some(previous) if !is_outdated(previous) && matches(secret, previous) => previous.to_string(),
        _ => new_hash(secret),
    }
}

/// Every verification this process made, by stored hash and a digest of the value (never the
/// value): a run checks the same secret against the same hash several times (preflight, plan,
/// apply), and each check costs the full Argon2 work.
fn cache() -> &'static Mutex<HashMap<(String, Vec<u8>), bool>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<(String, Vec<u8>), bool>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_secret_keeps_its_hash_and_a_changed_one_gets_another() {
        let first = secret_hash("hunter2", None);
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert!(!first.contains("hunter2"));
        assert_eq!(secret_hash("hunter2", Some(&first)), first);
        let changed = secret_hash("hunter3", Some(&first));
        assert_ne!(changed, first);
        assert!(matches("hunter3", &changed) && !matches("hunter2", &changed));
        assert_ne!(secret_hash("hunter2", None), first, "a new salt for every new hash");
    }

    #[test]
    fn hashes_written_before_argon2_are_recognised_and_replaced() {
        let legacy = format!("sha256:abc:{}", hex::encode(Sha256::digest(b"abc:Summer2024")));
        assert!(matches("Summer2024", &legacy));
        assert!(!matches("Winter2024", &legacy));
        assert!(is_outdated(&legacy));
        let upgraded = secret_hash("Summer2024", Some(&legacy));
        assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
        assert!(matches("Summer2024", &upgraded));
        assert!(!is_outdated(&upgraded));
    }

    #[test]
    fn weaker_parameters_are_outdated_but_still_verify() {
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, Some(32)).unwrap());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let stored = weak.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(matches("pw", &stored));
        assert!(is_outdated(&stored));
        assert!(!matches("nope", "$argon2id$garbage"), "an unreadable hash matches nothing");
    }
}
