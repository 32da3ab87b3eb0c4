//! The library's one error type.
//!
//! Every error names what went wrong and where: the file (or other origin such as
//! `stdin` or a C argument name), the field, and the offending value, e.g.
//! `profile.json: feature bass_level: acceptable_range [-4.9, -7.3] is inverted`.
//! The real-time path never produces this type (it allocates); it returns small
//! `Copy` enums instead.

use std::fmt;
use std::path::Path;

/// What kind of failure an [`Error`] is. New kinds may be added.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A file or directory could not be read, written or created.
    Io,
    /// Text that should be JSON (or JSON lines) is not, or has the wrong shape.
    Parse,
    /// A profile parsed but breaks a rule of `fixloop.profile/1`.
    InvalidProfile,
    /// A feature vector, policy, event or argument has a bad value (NaN, out of range…).
    InvalidInput,
    /// Stored data is damaged (checksum mismatch, bad header, truncated frame).
    Corrupt,
    /// Something that was asked for does not exist (an A/B test id, a feature).
    NotFound,
    /// A format, codec or version this build cannot handle.
    Unsupported,
    /// Audio could not be decoded or analysed.
    Audio,
    /// A statistic is undefined for the data (an empty arm, zero variance).
    Statistics,
}

impl ErrorKind {
    /// A short lower-case name of the kind, stable for logs and the C ABI.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "i/o error",
            ErrorKind::Parse => "parse error",
            ErrorKind::InvalidProfile => "invalid profile",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Corrupt => "corrupt data",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Audio => "audio error",
            ErrorKind::Statistics => "statistics error",
        }
    }
}

/// The error of every fallible non-real-time fixloop function.
///
/// `Display` prints `origin: message`; the alternate form (`{:#}`) appends the
/// underlying cause, if any.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    origin: Option<String>,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message that names the field and value at fault.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            origin: None,
            message: message.into(),
            source: None,
        }))
    }

    /// An I/O error on `path`, saying what was being done (`"read"`, `"create"`…).
    pub fn io(path: &Path, doing: &str, source: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("cannot {doing}: {source}"))
            .with_origin(path.display().to_string())
            .with_source(source)
    }

    /// Sets where the error happened (a file name, `stdin`, an argument) unless already set.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        if self.0.origin.is_none() {
            self.0.origin = Some(origin.into());
        }
        self
    }

    /// Prefixes the message with more context (`"line 12"`, `"feature bass_level"`).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Where it happened, when known.
    pub fn origin(&self) -> Option<&str> {
        self.0.origin.as_deref()
    }

    /// The message without the origin.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.0.origin {
            write!(f, "{origin}: ")?;
        }
        f.write_str(&self.0.message)?;
        if f.alternate() {
            if let Some(source) = &self.0.source {
                let text = source.to_string();
                if !self.0.message.contains(&text) {
                    write!(f, " (caused by: {text})")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("origin", &self.0.origin)
            .field("message", &self.0.message)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Refuses a non-finite number, naming the field. Used by every validator.
pub(crate) fn require_finite(field: impl fmt::Display, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{field} is {value}, which is not a finite number"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_origin_and_message() {
        let e = Error::new(ErrorKind::InvalidProfile, "feature x: std is -1")
            .with_origin("p.json")
            .context("while loading");
        assert_eq!(e.to_string(), "p.json: while loading: feature x: std is -1");
        assert_eq!(e.kind(), ErrorKind::InvalidProfile);
    }

    #[test]
    fn non_finite_is_refused_with_field_name() {
        let e = require_finite("gap_before", f64::NAN).unwrap_err();
        assert!(e.to_string().contains("gap_before is NaN"), "{e}");
        assert_eq!(require_finite("x", 1.5).unwrap(), 1.5);
    }
}
