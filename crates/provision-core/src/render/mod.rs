//! Turning plans and outcomes into text (for people), JSON (for programs) and Markdown (for a
//! pull-request comment).

mod paint;
pub mod plan_json;
pub mod plan_markdown;
#[cfg(test)]
mod plan_markdown_tests;
pub mod plan_text;
pub mod review_text;

pub use paint::Paint;
