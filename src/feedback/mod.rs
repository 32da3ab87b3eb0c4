//! Feedback: the seed's event and its JSON-lines interchange.

mod event;
pub mod jsonl;
pub mod records;
mod text;

pub use event::{improvement_ratio, Arm, EventOutcome, FeedbackEvent, Timestamp, UserAction};
pub use text::Text;
