//! JSON reading shared by every file format: errors name the origin, the line and
//! column, the JSON path of the field, and say plainly when the text holds a
//! non-finite number (`NaN`, `Infinity`), which Python's `json` module writes but JSON
//! does not allow.

use crate::error::{Error, ErrorKind, Result};
use serde::de::DeserializeOwned;

/// Parses `text` as `T`; errors carry `origin` ("profile.json", "stdin", "line 12").
pub(crate) fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let parsed: std::result::Result<T, _> = serde_path_to_error::deserialize(de);
    parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut message = match non_finite_token_at(text, inner.line(), inner.column()) {
            Some(token) => format!(
                "line {} column {}: {token} is not a finite number (NaN and infinities are refused)",
                inner.line(),
                inner.column()
            ),
            None => inner.to_string(),
        };
        if path != "." && !path.is_empty() {
            message = format!("field {path}: {message}");
        }
        Error::new(ErrorKind::Parse, message)
            .with_origin(origin)
            .with_source(inner)
    })
}

/// Serialises `value` as pretty JSON with a trailing newline.
pub(crate) fn to_pretty<T: serde::Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("fixloop types always serialise");
    s.push('\n');
    s
}

/// If the JSON error position points at `NaN`, `Infinity` or `-Infinity`, returns it.
fn non_finite_token_at(text: &str, line: usize, column: usize) -> Option<&'static str> {
    let line_text = text.lines().nth(line.checked_sub(1)?)?;
    // serde_json reports the column of the character it choked on (1-based); the
    // token may start up to one character before it.
    let start = column.saturating_sub(2);
    let tail = line_text.get(start..).unwrap_or("");
    let tail = tail.trim_start_matches([' ', ':', ',', '[']);
    ["-Infinity", "Infinity", "NaN"]
        .into_iter()
        .find(|token| tail.starts_with(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Doc {
        a: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        x: f64,
    }

    #[test]
    fn nan_token_is_named() {
        let e = parse::<Doc>("{\"a\": {\"x\": NaN}}", "f.json").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("f.json: field a.x: line 1"), "{s}");
        assert!(s.contains("NaN is not a finite number"), "{s}");
    }

    #[test]
    fn infinity_tokens_are_named() {
        for (text, token) in [
            ("{\"a\": {\"x\": Infinity}}", "Infinity"),
            ("{\"a\": {\"x\": -Infinity}}", "-Infinity"),
        ] {
            let e = parse::<Doc>(text, "f.json").unwrap_err().to_string();
            assert!(e.contains(&format!("{token} is not a finite")), "{e}");
        }
    }

    #[test]
    fn wrong_type_names_path() {
        let e = parse::<Doc>("{\"a\": {\"x\": \"loud\"}}", "f.json").unwrap_err();
        assert!(e.to_string().contains("field a.x"), "{e}");
    }
}
