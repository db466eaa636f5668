//! provision: declarative AWS infrastructure for web apps.
pub mod address;
pub mod aws;
pub mod drivers;
pub mod schema;
pub mod value;
