//! Colours as `#rrggbb` and the readable text colour on a background.
//!
//! The text colour follows the **YIQ** brightness rule (the one the replaced system used):
//! `Y = (299·R + 587·G + 114·B) / 1000` on 0–255 channels; a background with `Y ≥ 128` gets
//! black text (`#000000`), a darker one white (`#ffffff`). It is computed here so every
//! frontend shows the same pair.

use crate::error::AppError;

/// A colour as `#rrggbb`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexColor(String);

impl HexColor {
    /// Validates `raw` for `field`: `#` and six hex digits (either case; stored lower-case).
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        let ok =
            s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(AppError::bad_input(
                field,
                "a colour is '#' and six hexadecimal digits, e.g. #1a2b3c",
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    /// The colour, `#rrggbb`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Black or white text, whichever reads better on `background` (`#rrggbb`) by YIQ; `None`
/// when `background` is not a colour.
pub fn readable_text_color(background: &str) -> Option<&'static str> {
    let hex = background.strip_prefix('#').filter(|h| h.len() == 6)?;
    let channel = |i: usize| u32::from_str_radix(&hex[i..i + 2], 16).ok();
    let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
    let yiq = (r * 299 + g * 587 + b * 114) / 1000;
    Some(if yiq >= 128 { "#000000" } else { "#ffffff" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_text_color_on_known_pairs() {
        for (background, text) in [
            ("#ffffff", "#000000"),
            ("#000000", "#ffffff"),
            ("#ffff00", "#000000"), // yellow: Y = 225
            ("#0000ff", "#ffffff"), // blue: Y = 29
            ("#ff0000", "#ffffff"), // red: Y = 76
            ("#00ff00", "#000000"), // green: Y = 149
            ("#808080", "#000000"), // Y = 128, the threshold
            ("#7f7f7f", "#ffffff"), // Y = 127
            ("#2563eb", "#ffffff"),
        ] {
            assert_eq!(readable_text_color(background), Some(text), "{background}");
        }
        assert_eq!(readable_text_color("#12345"), None);
        assert_eq!(readable_text_color("red"), None);
    }

    #[test]
    fn colours_are_hash_and_six_hex_digits() {
        assert_eq!(HexColor::parse("#A1b2C3", "f").unwrap().as_str(), "#a1b2c3");
        for bad in [
            "",
            "#fff",
            "a1b2c3",
            "#a1b2c3d",
            "#g1b2c3",
            "rgb(0,0,0)",
            "##a1b2c",
        ] {
            assert!(HexColor::parse(bad, "f").is_err(), "{bad}");
        }
    }
}
