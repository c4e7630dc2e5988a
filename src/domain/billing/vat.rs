//! VAT identification numbers: the format of each country's number (the EU's as the VIES
//! service documents them, plus Northern Ireland, the United Kingdom and Switzerland).
//!
//! A number is normalised first (upper case; spaces, dots and hyphens removed; the country
//! prefix added when it was left out) and then held to its country's patterns. Only the
//! format is checked: whether the number is registered is Stripe's and the tax office's
//! business. No crate on crates.io covered this table at a quality worth a dependency, so it
//! lives here, in one place, with its tests.

/// A pattern's characters: `9` a digit, `A` a letter, `X` a letter or digit; anything else
/// stands for itself.
const FORMATS: &[(&str, &str, &[&str])] = &[
    // (country, prefix of the number, patterns after the prefix)
    ("AT", "AT", &["U99999999"]),
    ("BE", "BE", &["0999999999", "1999999999"]),
    ("BG", "BG", &["999999999", "9999999999"]),
    ("CY", "CY", &["99999999A"]),
    ("CZ", "CZ", &["99999999", "999999999", "9999999999"]),
    ("DE", "DE", &["999999999"]),
    ("DK", "DK", &["99999999"]),
    ("EE", "EE", &["999999999"]),
    ("ES", "ES", &["X9999999X"]),
    ("FI", "FI", &["99999999"]),
    ("FR", "FR", &["XX999999999"]),
    ("GR", "EL", &["999999999"]),
    ("HR", "HR", &["99999999999"]),
    ("HU", "HU", &["99999999"]),
    (
        "IE",
        "IE",
        &["9999999A", "9999999AA", "9A99999A", "9+99999A", "9*99999A"],
    ),
    ("IT", "IT", &["99999999999"]),
    ("LT", "LT", &["999999999", "999999999999"]),
    ("LU", "LU", &["99999999"]),
    ("LV", "LV", &["99999999999"]),
    ("MT", "MT", &["99999999"]),
    ("NL", "NL", &["999999999B99"]),
    ("PL", "PL", &["9999999999"]),
    ("PT", "PT", &["999999999"]),
    (
        "RO",
        "RO",
        &[
            "99",
            "999",
            "9999",
            "99999",
            "999999",
            "9999999",
            "99999999",
            "999999999",
            "9999999999",
        ],
    ),
    ("SE", "SE", &["999999999901"]),
    ("SI", "SI", &["99999999"]),
    ("SK", "SK", &["9999999999"]),
    ("XI", "XI", &["999999999", "999999999999", "GD999", "HA999"]),
    ("GB", "GB", &["999999999", "999999999999", "GD999", "HA999"]),
    (
        "CH",
        "CH",
        &[
            "E999999999",
            "E999999999MWST",
            "E999999999TVA",
            "E999999999IVA",
        ],
    ),
];

fn fits(pattern: &str, text: &str) -> bool {
    pattern.len() == text.len()
        && pattern.bytes().zip(text.bytes()).all(|(p, c)| match p {
            b'9' => c.is_ascii_digit(),
            b'A' => c.is_ascii_uppercase(),
            b'X' => c.is_ascii_uppercase() || c.is_ascii_digit(),
            other => other == c,
        })
}

/// Why a VAT id was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VatError {
    /// No format is known for the country (VAT ids are accepted for the EU, XI, GB and CH).
    UnknownCountry,
    /// The number does not have the country's format.
    Format,
}

/// Whether VAT ids of `country` (ISO 3166-1 alpha-2, upper case) can be checked.
pub fn known_country(country: &str) -> bool {
    FORMATS.iter().any(|(c, _, _)| *c == country)
}

/// `raw` as the normalised VAT id of `country` (upper case, no separators, with the prefix:
/// `EL` for Greece), or why not.
pub fn normalise(country: &str, raw: &str) -> Result<String, VatError> {
    let Some((_, prefix, patterns)) = FORMATS.iter().find(|(c, _, _)| *c == country) else {
        return Err(VatError::UnknownCountry);
    };
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
        .flat_map(char::to_uppercase)
        .collect();
    let number = match compact.strip_prefix(prefix) {
        Some(number) => number,
        // Another country's prefix is another country's number (not this one's without its
        // prefix, even where the patterns would allow it, as FR's `XX999999999` does).
        None if FORMATS.iter().any(|(_, p, _)| compact.starts_with(p)) => {
            return Err(VatError::Format);
        }
        None => &compact,
    };
    if patterns.iter().any(|p| fits(p, number)) {
        Ok(format!("{prefix}{number}"))
    } else {
        Err(VatError::Format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_are_normalised_with_their_prefix() {
        for (country, raw, normal) in [
            ("DE", "DE 123 456 789", "DE123456789"),
            ("DE", "123456789", "DE123456789"),
            ("AT", "atu12345678", "ATU12345678"),
            ("FR", "FR 40 303 265 045", "FR40303265045"),
            ("FR", "FRXA303265045", "FRXA303265045"),
            ("NL", "NL123456789B01", "NL123456789B01"),
            ("GR", "EL123456789", "EL123456789"),
            ("GR", "123456789", "EL123456789"),
            ("ES", "ESX1234567X", "ESX1234567X"),
            ("ES", "B12345678", "ESB12345678"),
            ("IE", "IE1234567WA", "IE1234567WA"),
            ("IE", "8Z49289F", "IE8Z49289F"),
            ("BE", "BE0123.456.789", "BE0123456789"),
            ("SE", "SE123456789701", "SE123456789701"),
            ("RO", "RO18547290", "RO18547290"),
            ("CZ", "CZ12345678", "CZ12345678"),
            ("XI", "XI123456789", "XI123456789"),
            ("GB", "GBGD001", "GBGD001"),
            ("CH", "CHE-123.456.789 MWST", "CHE123456789MWST"),
        ] {
            assert_eq!(normalise(country, raw).as_deref(), Ok(normal), "{raw}");
        }
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for (country, raw) in [
            ("DE", "DE12345678"),    // one digit short
            ("DE", "DE1234567890"),  // one too many
            ("DE", "FR40303265045"), // another country's number
            ("AT", "AT12345678"),    // the U is missing
            ("NL", "NL123456789A01"),
            ("SE", "SE123456789700"), // must end in 01
            ("BE", "BE2123456789"),   // starts with 0 or 1
            ("GR", "GR123456789"),    // Greece's prefix is EL
            ("RO", "RO1"),
            ("DE", ""),
            ("DE", "DE12345678٩"), // a non-ASCII digit
            ("FR", "DE123456789"), // a German number, though FR's pattern would fit
        ] {
            assert_eq!(normalise(country, raw), Err(VatError::Format), "{raw}");
        }
    }

    #[test]
    fn countries_without_a_known_format_are_refused() {
        assert_eq!(normalise("US", "123"), Err(VatError::UnknownCountry));
        assert!(known_country("DE") && known_country("GR") && !known_country("EL"));
    }

    #[test]
    fn every_eu_country_has_a_format() {
        let eu = [
            "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
            "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        ];
        assert_eq!(eu.len(), 27);
        assert!(eu.iter().all(|c| known_country(c)));
    }
}
