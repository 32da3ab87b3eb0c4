//! Feedback: the seed's event and its JSON-lines interchange.

mod event;
pub mod jsonl;
pub mod records;

pub use event::{improvement_ratio, Arm, FeedbackEvent, Timestamp, UserAction};
