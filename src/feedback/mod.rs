//! Feedback: the seed's event and its JSON-lines interchange.

mod event;
pub mod fold;
mod ids;
pub mod jsonl;
mod outcomes;
pub mod records;
mod text;

pub use event::{improvement_ratio, Arm, FeedbackEvent, Timestamp, UserAction};
pub(crate) use outcomes::NO_ARMS;
pub use outcomes::{EventOutcome, Only, Outcomes};
pub use text::Text;
