//! One-time passwords: 20 characters from the OS's random source, with at least one lower
//! case letter, one upper case letter, one digit and one symbol (mail servers check strength).

use rand_core::{OsRng, RngCore};

use crate::upstream::Secret;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"-_.!%+";
const LENGTH: usize = 20;

fn pick(set: &[u8]) -> u8 {
    // Rejection sampling: no bias towards the first characters of the set.
    let bound = (256 / set.len()) * set.len();
    loop {
        let mut b = [0u8; 1];
        OsRng.fill_bytes(&mut b);
        let n = usize::from(b[0]);
        if n < bound {
            return set[n % set.len()];
        }
    }
}

/// A new one-time password.
pub fn generate() -> Secret {
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = vec![pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
    while chars.len() < LENGTH {
        chars.push(pick(&all));
    }
    // Fisher–Yates, so the required classes are not always first.
    for i in (1..chars.len()).rev() {
        let mut b = [0u8; 4];
        OsRng.fill_bytes(&mut b);
        let j = usize::try_from(u32::from_le_bytes(b)).unwrap_or(0) % (i + 1);
        chars.swap(i, j);
    }
    Secret::new(String::from_utf8(chars).expect("ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_mixed_and_different() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        let s = a.expose();
        assert_eq!(s.len(), LENGTH);
        assert!(s.bytes().any(|c| c.is_ascii_lowercase()));
        assert!(s.bytes().any(|c| c.is_ascii_uppercase()));
        assert!(s.bytes().any(|c| c.is_ascii_digit()));
        assert!(s.bytes().any(|c| SYMBOLS.contains(&c)));
    }
}
