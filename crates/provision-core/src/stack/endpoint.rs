//! Where a stack file may send AWS calls.
//!
//! An `endpoint` in the stack file receives every signed request of the run, secret payloads
//! included (`PutSecretValue`, a database's master password). A stack file is what a pull request
//! changes, so a file that could name any host would let a pull request send a CI runner's signed
//! requests and secrets to a server of its choice. The file may therefore only name a loopback
//! address (a local emulator); anything else comes from `--endpoint` or `AWS_ENDPOINT_URL`, which
//! only whoever runs provision sets.

use std::net::{IpAddr, Ipv6Addr};

/// Why `url` is not an endpoint a stack file may name, or `None` when it is a loopback one.
pub fn loopback_problem(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Some(format!("`{url}` is not an `http://` or `https://` URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Some(format!("`{url}` carries credentials"));
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((host, _)) => host,
            None => return Some(format!("`{url}` is not a valid URL")),
        }
    } else {
        authority.rsplit_once(':').map(|(host, _)| host).unwrap_or(authority)
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => ip.is_loopback(),
            Ok(IpAddr::V6(ip)) => ip == Ipv6Addr::LOCALHOST,
            Err(_) => false,
        };
    (!loopback).then(|| format!("`{url}` is not a loopback address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_pass() {
        for good in ["http://127.0.0.1:5000", "http://localhost:4566/", "https://[::1]:9000", "http://127.1.2.3"] {
            assert_eq!(loopback_problem(good), None, "{good}");
        }
        for bad in [
            "https://evil.example.com",
            "http://localhost.evil.example.com:5000",
            "http://127.0.0.1@evil.example.com",
            "http://10.0.0.5:5000",
            "http://[::2]:80",
            "ftp://127.0.0.1",
            "127.0.0.1:5000",
        ] {
            assert!(loopback_problem(bad).is_some(), "{bad}");
        }
    }
}
