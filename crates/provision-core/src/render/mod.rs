//! Turning plans and outcomes into text (for people) and JSON (for programs).

mod paint;
pub mod plan_json;
pub mod plan_text;

pub use paint::Paint;
