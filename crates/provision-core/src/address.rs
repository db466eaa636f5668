//! Resource addresses: `TYPE.NAME`, the key of a resource in the stack file and in the state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    pub type_name: String,
    pub name: String,
}

impl Address {
    pub fn new(type_name: impl Into<String>, name: impl Into<String>) -> Address {
        Address { type_name: type_name.into(), name: name.into() }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// True for names that may stand as `NAME` in `TYPE.NAME`.
pub fn is_valid_resource_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Address, String> {
        match text.split_once('.') {
            Some((type_name, name)) if !type_name.is_empty() && is_valid_resource_name(name) => {
                Ok(Address::new(type_name, name))
            }
            _ => Err(format!("`{text}` is not a resource address; expected `TYPE.NAME`, e.g. `s3_bucket.site`")),
        }
    }
}

impl TryFrom<String> for Address {
    type Error = String;
    fn try_from(text: String) -> Result<Address, String> {
        text.parse()
    }
}

impl From<Address> for String {
    fn from(address: Address) -> String {
        address.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_and_name() {
        let address: Address = "ecs_service.api".parse().unwrap();
        assert_eq!(address.type_name, "ecs_service");
        assert_eq!(address.name, "api");
        assert_eq!(address.to_string(), "ecs_service.api");
    }

    #[test]
    fn rejects_malformed_addresses() {
        assert!("bucket".parse::<Address>().is_err());
        assert!("s3_bucket.Site".parse::<Address>().is_err());
        assert!(".site".parse::<Address>().is_err());
    }
}
