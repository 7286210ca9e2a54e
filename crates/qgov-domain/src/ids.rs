//! Identifiers with check characters: the unified social credit code (GB 32100-2015,
//! with the GB 11714 organisation code inside it), GTIN and GLN (GS1 General
//! Specifications, mod-10 check digit).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was refused; `code()` is a stable key for messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be {expected} characters long, got {got}")]
    Length { expected: &'static str, got: usize },
    #[error("character {ch:?} at position {pos} is not allowed")]
    Charset { pos: usize, ch: char },
    #[error("positions 3-8 must be the six-digit administrative division code")]
    Division,
    #[error("the organisation code check character (position 17) should be {expected:?}")]
    OrgCheck { expected: char },
    #[error("the check character (last position) should be {expected:?}")]
    Check { expected: char },
}

impl IdError {
    /// Stable key for message catalogues (`err-id-<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Length { .. } => "id-length",
            IdError::Charset { .. } => "id-charset",
            IdError::Division => "id-division",
            IdError::OrgCheck { .. } => "id-org-check",
            IdError::Check { .. } => "id-check",
        }
    }
}

/// GB 32100-2015 §4: the 31 characters of the code, in value order 0..=30
/// (the letters I, O, Z, S and V are never used).
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100-2015 §5: weights 3^(i-1) mod 31 for positions 1..=17.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// GB 11714-1997: weights of the eight body characters of the organisation code.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

/// GB 11714 value of a body character: digits are themselves, letters A=10 … Z=35.
fn org_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => (c - b'0') as u32,
        _ => (c - b'A') as u32 + 10,
    }
}

/// The GB 11714 check character for an eight-character organisation-code body.
pub fn org_code_check(body: &[u8]) -> char {
    let sum: u32 = body.iter().zip(ORG_WEIGHTS).map(|(&c, w)| org_value(c) * w).sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    }
}

/// The GB 32100 check character for the first 17 characters (already in the charset).
pub fn uscc_check(first17: &[u8]) -> char {
    let sum: u32 = first17.iter().zip(USCC_WEIGHTS).map(|(&c, w)| uscc_value(c).unwrap_or(0) * w).sum();
    let v = (31 - sum % 31) % 31;
    USCC_CHARSET[v as usize] as char
}

/// 统一社会信用代码: 18 characters — registration authority (1), entity type (1),
/// administrative division (6 digits), organisation code (9, GB 11714), check (1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnifiedCreditCode(String);

impl UnifiedCreditCode {
    /// Parse a code, accepting lower-case letters and surrounding blanks.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdError::Length { expected: "18", got: n });
        }
        for (i, &c) in b.iter().enumerate() {
            if uscc_value(c).is_none() {
                return Err(IdError::Charset { pos: i + 1, ch: c as char });
            }
        }
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(IdError::Division);
        }
        let org_expected = org_code_check(&b[8..16]);
        if b[16] as char != org_expected {
            return Err(IdError::OrgCheck { expected: org_expected });
        }
        let expected = uscc_check(&b[..17]);
        if b[17] as char != expected {
            return Err(IdError::Check { expected });
        }
        Ok(Self(s))
    }

    /// Build a valid code from its parts (the two check characters are computed).
    /// `prefix` is authority + type + division (8 characters), `org_body` the eight
    /// organisation-code body characters. Used by the demo seeder and tests.
    pub fn compose(prefix: &str, org_body: &str) -> Result<Self, IdError> {
        let mut s = String::with_capacity(18);
        s.push_str(prefix);
        s.push_str(org_body);
        if s.len() != 16 {
            return Err(IdError::Length { expected: "16 (prefix + body)", got: s.len() });
        }
        s.push(org_code_check(&s.as_bytes()[8..16]));
        let check = uscc_check(s.as_bytes());
        s.push(check);
        Self::parse(&s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The six-digit administrative division code (e.g. 120116 for Binhai New Area).
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for UnifiedCreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for UnifiedCreditCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}
impl From<UnifiedCreditCode> for String {
    fn from(c: UnifiedCreditCode) -> String {
        c.0
    }
}

/// GS1 mod-10 check digit of the digits before it.
pub fn gs1_check_digit(body: &[u8]) -> u8 {
    let sum: u32 =
        body.iter().rev().enumerate().map(|(i, &d)| (d - b'0') as u32 * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

fn parse_gs1(input: &str, lengths: &'static [usize], expected: &'static str) -> Result<String, IdError> {
    let s = input.trim();
    let n = s.chars().count();
    if !lengths.contains(&n) {
        return Err(IdError::Length { expected, got: n });
    }
    if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(IdError::Charset { pos: i + 1, ch: c });
    }
    let b = s.as_bytes();
    let check = gs1_check_digit(&b[..n - 1]);
    if b[n - 1] - b'0' != check {
        return Err(IdError::Check { expected: char::from(b'0' + check) });
    }
    Ok(s.to_owned())
}

/// Global Trade Item Number (GTIN-8, -12, -13 or -14), kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);

impl Gtin {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_gs1(input, &[8, 12, 13, 14], "8, 12, 13 or 14").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 14-digit form (left-padded with zeros), as used inside EPC URNs.
    pub fn to_gtin14(&self) -> String {
        format!("{:0>14}", self.0)
    }
}
impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for Gtin {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}
impl From<Gtin> for String {
    fn from(c: Gtin) -> String {
        c.0
    }
}

/// Global Location Number (13 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln(String);

impl Gln {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_gs1(input, &[13], "13").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl fmt::Display for Gln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for Gln {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}
impl From<Gln> for String {
    fn from(c: Gln) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Codes quoted as examples in explanations of GB 32100; both check characters hold.
    #[test]
    fn accepts_known_real_codes() {
        for code in ["91350100M000100Y43", "91110000600037341L"] {
            let r = UnifiedCreditCode::parse(code);
            assert!(r.is_ok(), "{code}: {r:?}");
        }
    }

    #[test]
    fn rejects_with_reason() {
        assert_eq!(UnifiedCreditCode::parse("9135010").unwrap_err().code(), "id-length");
        assert_eq!(UnifiedCreditCode::parse("91350100M000100YI3").unwrap_err(), IdError::Charset { pos: 17, ch: 'I' });
        assert_eq!(UnifiedCreditCode::parse("9135A100M000100Y43").unwrap_err(), IdError::Division);
        // Change the last body character of the organisation code: GB 11714 check fails.
        assert!(matches!(UnifiedCreditCode::parse("91350100M000100X43"), Err(IdError::OrgCheck { .. })));
        assert_eq!(UnifiedCreditCode::parse("91350100M000100Y44").unwrap_err(), IdError::Check { expected: '3' });
    }

    #[test]
    fn lowercase_and_blanks_are_normalised() {
        let c = UnifiedCreditCode::parse(" 91350100m000100y43 ").unwrap();
        assert_eq!(c.as_str(), "91350100M000100Y43");
        assert_eq!(c.division(), "350100");
    }

    #[test]
    fn org_code_check_known_values() {
        // GB 11714 worked example: D2143569 → check 1 is wrong; classic example 12345678 → 8.
        assert_eq!(org_code_check(b"12345678"), '8');
        assert_eq!(org_code_check(b"M000100Y"), '4');
    }

    #[test]
    fn gtin_and_gln() {
        assert!(Gtin::parse("6901234567892").is_ok());
        assert!(Gtin::parse("06901234567892").is_ok());
        assert!(Gtin::parse("96385074").is_ok());
        assert_eq!(Gtin::parse("6901234567893").unwrap_err(), IdError::Check { expected: '2' });
        assert_eq!(Gtin::parse("690123456789").unwrap_err(), IdError::Check { expected: '7' });
        assert_eq!(Gtin::parse("69012345678").unwrap_err().code(), "id-length");
        assert!(Gln::parse("6901234000009").is_ok());
        assert!(matches!(Gln::parse("690123400000A"), Err(IdError::Charset { pos: 13, .. })));
        assert_eq!(Gtin::parse("6901234567892").unwrap().to_gtin14(), "06901234567892");
    }

    proptest! {
        #[test]
        fn composed_codes_always_parse(body in "[0-9A-HJ-NPQRTUWXY]{8}", kind in "[159Y]") {
            let c = UnifiedCreditCode::compose(&format!("{kind}1120116"), &body).unwrap();
            prop_assert_eq!(c.division(), "120116");
        }

        #[test]
        fn any_single_substitution_is_caught(body in "[0-9A-HJ-NPQRTUWXY]{8}", pos in 0usize..18, by in 0usize..31) {
            let good = UnifiedCreditCode::compose("91120116", &body).unwrap();
            let mut b = good.as_str().as_bytes().to_vec();
            let replacement = USCC_CHARSET[by];
            prop_assume!(b[pos] != replacement);
            b[pos] = replacement;
            let s = String::from_utf8(b).unwrap();
            prop_assert!(UnifiedCreditCode::parse(&s).is_err(), "{} accepted", s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = UnifiedCreditCode::parse(&s);
            let _ = Gtin::parse(&s);
            let _ = Gln::parse(&s);
        }
    }
}
