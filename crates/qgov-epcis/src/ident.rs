//! Identifiers: EPC URNs (GS1 Tag Data Standard 2.x §6, §14) and GS1 Digital Link URIs
//! (GS1 Digital Link Standard 1.x §4), parsed, checked and converted.
//!
//! **Canonical form.** Every GS1 key is stored as the canonical Digital Link URI on
//! `https://id.gs1.org/` (GTIN padded to 14 digits, query string dropped). That is the form the
//! CBV 2.0 event hash needs (CBV 2.0 §8.9.3 step 4), and the conversion from an EPC URN is
//! lossless. The way back to an EPC URN needs the length of the GS1 Company Prefix, which a
//! Digital Link does not carry: when the identifier arrived as a URN we remember the length we
//! saw ([`Epc::gcp_len`]); otherwise the caller may give one, and the last resort is
//! [`DEFAULT_GCP_LENGTH`] (7 digits, the most common). A wrong guess still yields a valid URN
//! that converts back to the same Digital Link, so identity is never lost, only the dot moves.
//! Identifiers that are not GS1 keys (other URIs, non-GS1 EPC schemes such as `gid` or `adi`)
//! are kept exactly as received.

use std::fmt;

/// The company-prefix length assumed when converting a Digital Link to an EPC URN and neither
/// the original URN nor the caller told us the real one.
pub const DEFAULT_GCP_LENGTH: u8 = 7;

/// The form in which a client wants identifiers rendered (EPCIS 2.0 §12.3 `GS1-EPC-Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EpcFormat {
    /// `Always_GS1_Digital_Link`.
    DigitalLink,
    /// `Always_EPC_URN`.
    EpcUrn,
    /// `No_Preference`: we answer with the canonical (Digital Link) form.
    #[default]
    NoPreference,
}

impl EpcFormat {
    /// Reads the value of the `GS1-EPC-Format` header; `None` when it is not one of the three
    /// standard values.
    pub fn from_header(value: &str) -> Option<Self> {
        match value.trim() {
            "Always_GS1_Digital_Link" => Some(Self::DigitalLink),
            "Always_EPC_URN" => Some(Self::EpcUrn),
            "No_Preference" => Some(Self::NoPreference),
            _ => None,
        }
    }
}

/// Why an identifier was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, IdError> {
    Err(IdError(msg.into()))
}

/// An identifier (EPC, class, location, party, transaction, device…) in canonical form.
///
/// Equality and hashing look at the canonical form only, so `urn:epc:id:sgtin:0614141.107346.2017`
/// and `https://id.gs1.org/01/10614141073464/21/2017` are the same `Epc`.
#[derive(Clone, Debug)]
pub struct Epc {
    canonical: String,
    gcp_len: Option<u8>,
}

impl PartialEq for Epc {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for Epc {}
impl std::hash::Hash for Epc {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical.hash(state)
    }
}

impl fmt::Display for Epc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl Epc {
    /// Parses an identifier: an EPC URN (checked against the TDS grammar and converted), a
    /// GS1 Digital Link URI (check digits verified, converted to the canonical host), or any
    /// other absolute URI (kept as is).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let s = input.trim();
        if s.is_empty() {
            return err("identifier is empty");
        }
        if let Some(rest) = strip_prefix_ci(s, "urn:epc:") {
            return match epc_urn_to_key(rest)? {
                Some((key, gcp)) => Ok(Epc { canonical: key.to_digital_link(), gcp_len: Some(gcp) }),
                None => Ok(Epc { canonical: s.to_string(), gcp_len: None }),
            };
        }
        if let Some(key) = parse_digital_link(s)? {
            return Ok(Epc { canonical: key.to_digital_link(), gcp_len: None });
        }
        check_uri(s)?;
        Ok(Epc { canonical: s.to_string(), gcp_len: None })
    }

    /// The canonical form (Digital Link for GS1 keys, otherwise the URI as received).
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The company-prefix length learned from the EPC URN this identifier arrived as.
    pub fn gcp_len(&self) -> Option<u8> {
        self.gcp_len
    }

    /// Whether this is a GS1 key held as a canonical Digital Link.
    pub fn is_gs1_key(&self) -> bool {
        self.canonical.starts_with(CANONICAL_HOST)
    }

    /// The EPC URN for this identifier, when it is a GS1 key that has one. `gcp_len` overrides
    /// the remembered company-prefix length; see the module documentation for the fallback.
    pub fn to_epc_urn(&self, gcp_len: Option<u8>) -> Option<String> {
        if !self.is_gs1_key() {
            return None;
        }
        let key = parse_digital_link(&self.canonical).ok()??;
        let len = gcp_len.or(self.gcp_len).unwrap_or(DEFAULT_GCP_LENGTH);
        key.to_epc_urn(len).or_else(|| key.to_epc_urn(DEFAULT_GCP_LENGTH))
    }

    /// Renders the identifier in the form a client asked for.
    pub fn render(&self, format: EpcFormat) -> String {
        match format {
            EpcFormat::EpcUrn => self.to_epc_urn(None).unwrap_or_else(|| self.canonical.clone()),
            EpcFormat::DigitalLink | EpcFormat::NoPreference => self.canonical.clone(),
        }
    }

    /// The form used in the XML binding, where EPC URNs are the tradition: the URN when one
    /// exists, the canonical form otherwise.
    pub fn render_preferring_urn(&self) -> String {
        self.render(EpcFormat::EpcUrn)
    }

    /// [`Epc::render_preferring_urn`] of an identifier already in canonical form (as the store
    /// and the trace index hold them), with one Digital Link parse instead of three. A string
    /// that is not a canonical GS1 key comes back unchanged.
    pub fn canonical_to_urn(canonical: &str) -> String {
        let mut out = String::new();
        Self::push_canonical_urn(canonical, &mut out);
        out
    }

    /// [`Epc::canonical_to_urn`] appended to `out`: a trace writes thousands of these, and the
    /// keys it is made of (GTIN with serial or lot, SSCC, GLN) take no allocation of their own.
    pub fn push_canonical_urn(canonical: &str, out: &mut String) {
        if !(gtin_urn(canonical, out) || sscc_urn(canonical, out) || gln_urn(canonical, out)) {
            out.push_str(&general_to_urn(canonical));
        }
    }
}

/// [`Epc::canonical_to_urn`] through the general Digital Link parse.
fn general_to_urn(canonical: &str) -> String {
    if canonical.starts_with(CANONICAL_HOST)
        && let Ok(Some(key)) = parse_digital_link(canonical)
        && let Some(urn) = key.to_epc_urn(DEFAULT_GCP_LENGTH)
    {
        return urn;
    }
    canonical.to_owned()
}

/// Appends the URN of an SSCC (a pallet or case, `…/00/<18 digits>`) without the general
/// parse. `false`, with nothing written, for anything else, which takes the general path.
fn sscc_urn(s: &str, out: &mut String) -> bool {
    let Some(v) = s.strip_prefix("https://id.gs1.org/00/") else { return false };
    if v.len() != 18 || !all_digits(v) || !check_digit_ok(v) {
        return false;
    }
    let g = usize::from(DEFAULT_GCP_LENGTH);
    for part in ["urn:epc:id:sscc:", &v[1..1 + g], ".", &v[..1], &v[1 + g..17]] {
        out.push_str(part);
    }
    true
}

/// Appends the URN of a place (`…/414/<GLN>`, with an extension `/254/<ext>` of up to 20
/// letters and digits) or a party (`…/417/<GLN>`) without the general parse. `false`, with
/// nothing written, for anything else, which takes the general path.
fn gln_urn(s: &str, out: &mut String) -> bool {
    let parts = || {
        let (scheme, rest) =
            match (s.strip_prefix("https://id.gs1.org/414/"), s.strip_prefix("https://id.gs1.org/417/")) {
                (Some(rest), _) => ("urn:epc:id:sgln:", rest),
                (_, Some(rest)) => ("urn:epc:id:pgln:", rest),
                _ => return None,
            };
        let (gln, tail) = (rest.get(..13)?, rest.get(13..)?);
        if !all_digits(gln) || !check_digit_ok(gln) {
            return None;
        }
        let ext = match (scheme, tail) {
            ("urn:epc:id:sgln:", "") => Some("0"),
            ("urn:epc:id:sgln:", _) => {
                let ext = tail.strip_prefix("/254/")?;
                let plain = !ext.is_empty() && ext.len() <= 20 && ext.bytes().all(|b| b.is_ascii_alphanumeric());
                if !plain {
                    return None;
                }
                Some(ext)
            }
            (_, "") => None,
            _ => return None,
        };
        Some((scheme, gln, ext))
    };
    let Some((scheme, gln, ext)) = parts() else { return false };
    let g = usize::from(DEFAULT_GCP_LENGTH);
    for part in [scheme, &gln[..g], ".", &gln[g..12]] {
        out.push_str(part);
    }
    if let Some(ext) = ext {
        out.push('.');
        out.push_str(ext);
    }
    true
}

/// The URN of the keys a trace is made of, a GTIN with a serial (SGTIN) or with a lot (LGTIN
/// class) of up to 20 letters and digits, without the general parse: such a value reads the
/// same in a Digital Link and in a URN. `None` for anything else, which takes the general
/// path (the tests compare both on valid and invalid input). Appends it to `out`; `false`,
/// with nothing written, for anything else.
fn gtin_urn(s: &str, out: &mut String) -> bool {
    let parts = || {
        let rest = s.strip_prefix("https://id.gs1.org/01/")?;
        let (gtin, rest) = (rest.get(..14)?, rest.get(14..)?);
        let (scheme, value) = match (rest.strip_prefix("/21/"), rest.strip_prefix("/10/")) {
            (Some(serial), _) => ("urn:epc:id:sgtin:", serial),
            (_, Some(lot)) => ("urn:epc:class:lgtin:", lot),
            _ => return None,
        };
        let plain = !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_alphanumeric());
        (all_digits(gtin) && check_digit_ok(gtin) && plain).then_some((scheme, gtin, value))
    };
    let Some((scheme, gtin, value)) = parts() else { return false };
    let g = usize::from(DEFAULT_GCP_LENGTH);
    for part in [scheme, &gtin[1..1 + g], ".", &gtin[..1], &gtin[1 + g..13], ".", value] {
        out.push_str(part);
    }
    true
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// A URI must have a scheme (RFC 3986 §3.1) and no whitespace or control characters.
pub(crate) fn check_uri(s: &str) -> Result<(), IdError> {
    let Some(colon) = s.find(':') else { return err(format!("`{s}` is not a URI (no scheme)")) };
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return err(format!("`{s}` is not a URI (bad scheme)"));
    }
    if colon + 1 == s.len() {
        return err(format!("`{s}` is not a URI (nothing after the scheme)"));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '{' | '}' | '\\' | '^' | '`'))
    {
        return err(format!("`{s}` is not a URI (contains a character that must be escaped)"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GS1 keys

const CANONICAL_HOST: &str = "https://id.gs1.org/";

/// A GS1 key with its qualifiers, as in a Digital Link path (values unescaped).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Gs1Key {
    ai: &'static str,
    value: String,
    qualifiers: Vec<(&'static str, String)>,
}

/// Primary-key AIs and the qualifiers each may carry, in the order the Digital Link standard
/// fixes (GS1 Digital Link 1.x §4.5, table of key qualifiers).
const PRIMARY_KEYS: &[(&str, &str, &[&str])] = &[
    ("01", "gtin", &["22", "10", "21", "235"]),
    ("00", "sscc", &[]),
    ("414", "gln", &["254"]),
    ("417", "party", &[]),
    ("8003", "grai", &[]),
    ("8004", "giai", &[]),
    ("8018", "gsrn", &["8019"]),
    ("8017", "gsrnp", &["8019"]),
    ("253", "gdti", &[]),
    ("255", "gcn", &[]),
    ("401", "ginc", &[]),
    ("402", "gsin", &[]),
    ("8006", "itip", &["22", "10", "21"]),
    ("8010", "cpid", &["8011"]),
    ("8013", "gmn", &[]),
];

const QUALIFIER_ALIASES: &[(&str, &str)] =
    &[("cpv", "22"), ("lot", "10"), ("ser", "21"), ("glnx", "254"), ("srin", "8019"), ("cpsn", "8011")];

fn primary_ai(segment: &str) -> Option<(&'static str, &'static [&'static str])> {
    PRIMARY_KEYS.iter().find(|(ai, alias, _)| *ai == segment || *alias == segment).map(|(ai, _, q)| (*ai, *q))
}

fn qualifier_ai(segment: &str) -> Option<&'static str> {
    const ALL: &[&str] = &["22", "10", "21", "235", "254", "8019", "8011"];
    ALL.iter()
        .copied()
        .find(|ai| *ai == segment)
        .or_else(|| QUALIFIER_ALIASES.iter().find(|(alias, _)| *alias == segment).map(|(_, ai)| *ai))
}

/// GS1 General Specifications §7.9: mod-10 check digit over the digits before it.
pub(crate) fn gs1_check_digit(digits: &str) -> u8 {
    let sum: u32 =
        digits.bytes().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn with_check(digits: &str) -> String {
    let mut s = String::with_capacity(digits.len() + 1);
    s.push_str(digits);
    s.push(char::from(b'0' + gs1_check_digit(digits)));
    s
}

fn check_digit_ok(full: &str) -> bool {
    let (body, last) = full.split_at(full.len() - 1);
    last.as_bytes()[0] - b'0' == gs1_check_digit(body)
}

/// GS1 AI encodable character set 82 (GS1 General Specifications §7.11, figure 7.11-1).
fn is_cs82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

/// GS1 AI encodable character set 39 (for CPID, AI 8010).
fn is_cs39(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || "#-/".contains(c)
}

fn check_cs82(what: &str, v: &str, max: usize) -> Result<(), IdError> {
    if v.is_empty() {
        return err(format!("{what} is empty"));
    }
    if v.chars().count() > max {
        return err(format!("{what} `{v}` is longer than {max} characters"));
    }
    if let Some(c) = v.chars().find(|c| !is_cs82(*c)) {
        return err(format!("{what} `{v}` contains `{c}`, outside GS1 character set 82"));
    }
    Ok(())
}

/// Checks the value of a primary key (fixed-length numeric keys must have a valid check digit).
fn check_key_value(ai: &str, v: &str) -> Result<(), IdError> {
    let numeric = |len: usize| -> Result<(), IdError> {
        if v.len() != len || !all_digits(v) {
            return err(format!("AI ({ai}) needs {len} digits, got `{v}`"));
        }
        if !check_digit_ok(v) {
            return err(format!("AI ({ai}) `{v}` has a wrong check digit"));
        }
        Ok(())
    };
    match ai {
        "01" => numeric(14),
        "00" => numeric(18),
        "414" | "417" => numeric(13),
        "8018" | "8017" => numeric(18),
        "402" => numeric(17),
        "8003" => {
            if v.len() < 14 || !all_digits(&v[..14]) || !v.starts_with('0') {
                return err(format!("GRAI `{v}` must start with 14 digits, the first 0"));
            }
            if !check_digit_ok(&v[..14]) {
                return err(format!("GRAI `{v}` has a wrong check digit"));
            }
            if v.len() > 14 { check_cs82("GRAI serial", &v[14..], 16) } else { Ok(()) }
        }
        "253" | "255" => {
            if v.len() < 13 || !all_digits(&v[..13]) {
                return err(format!("AI ({ai}) `{v}` must start with 13 digits"));
            }
            if !check_digit_ok(&v[..13]) {
                return err(format!("AI ({ai}) `{v}` has a wrong check digit"));
            }
            if v.len() > 13 {
                if ai == "255" {
                    if !all_digits(&v[13..]) || v.len() > 25 {
                        return err(format!("GCN serial in `{v}` must be up to 12 digits"));
                    }
                    Ok(())
                } else {
                    check_cs82("GDTI serial", &v[13..], 17)
                }
            } else {
                Ok(())
            }
        }
        "8006" => {
            if v.len() != 18 || !all_digits(v) || !check_digit_ok(&v[..14]) {
                return err(format!("ITIP `{v}` must be a GTIN with valid check digit and 4 digits piece/total"));
            }
            Ok(())
        }
        "8004" => {
            check_cs82("GIAI", v, 30)?;
            if v.len() < 7 || !all_digits(&v[..6]) {
                return err(format!("GIAI `{v}` must start with a company prefix"));
            }
            Ok(())
        }
        "401" => {
            check_cs82("GINC", v, 30)?;
            if v.len() < 7 || !all_digits(&v[..6]) {
                return err(format!("GINC `{v}` must start with a company prefix"));
            }
            Ok(())
        }
        "8010" => {
            if v.is_empty() || v.len() > 30 || !v.chars().all(is_cs39) || !all_digits(&v[..6.min(v.len())]) {
                return err(format!(
                    "CPID `{v}` must be up to 30 characters of set 39, starting with a company prefix"
                ));
            }
            Ok(())
        }
        "8013" => check_cs82("GMN", v, 30),
        _ => err(format!("unknown AI ({ai})")),
    }
}

fn check_qualifier(ai: &str, v: &str) -> Result<(), IdError> {
    match ai {
        "21" => check_cs82("serial (AI 21)", v, 20),
        "10" => check_cs82("lot (AI 10)", v, 20),
        "22" => check_cs82("consumer product variant (AI 22)", v, 20),
        "235" => check_cs82("third-party serial (AI 235)", v, 28),
        "254" => check_cs82("GLN extension (AI 254)", v, 20),
        "8019" => {
            if all_digits(v) && v.len() <= 10 {
                Ok(())
            } else {
                err(format!("SRIN (AI 8019) `{v}` must be up to 10 digits"))
            }
        }
        "8011" => {
            if all_digits(v) && v.len() <= 12 {
                Ok(())
            } else {
                err(format!("CPID serial (AI 8011) `{v}` must be up to 12 digits"))
            }
        }
        _ => err(format!("unknown qualifier AI ({ai})")),
    }
}

/// Characters left unescaped in a canonical Digital Link path segment: RFC 3986 unreserved
/// characters plus the apostrophe, matching the CBV 2.0 event-hash reference vectors.
fn dl_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'\'') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> Result<String, IdError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| IdError(format!("bad percent escape in `{s}`")))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| IdError(format!("bad percent escape in `{s}`")))?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| IdError(format!("percent escapes in `{s}` are not UTF-8")))
}

/// TDS 2.x §6.3: characters that must be escaped in an EPC URN component.
fn urn_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("%22"),
            '#' => out.push_str("%23"),
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '/' => out.push_str("%2F"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '?' => out.push_str("%3F"),
            _ => out.push(c),
        }
    }
}

fn urn_unescape(what: &str, s: &str) -> Result<String, IdError> {
    let v = percent_decode(s)?;
    check_cs82(what, &v, 30)?;
    Ok(v)
}

impl Gs1Key {
    fn to_digital_link(&self) -> String {
        let mut s = String::with_capacity(64);
        s.push_str(CANONICAL_HOST);
        s.push_str(self.ai);
        s.push('/');
        dl_escape(&self.value, &mut s);
        for (ai, v) in &self.qualifiers {
            s.push('/');
            s.push_str(ai);
            s.push('/');
            dl_escape(v, &mut s);
        }
        s
    }

    fn qualifier(&self, ai: &str) -> Option<&str> {
        self.qualifiers.iter().find(|(q, _)| *q == ai).map(|(_, v)| v.as_str())
    }

    /// TDS 2.x §6.3 and §14: the EPC URN, given the company-prefix length.
    fn to_epc_urn(&self, gcp: u8) -> Option<String> {
        let g = usize::from(gcp);
        if !(6..=12).contains(&g) {
            return None;
        }
        let v = self.value.as_str();
        let mut out = String::with_capacity(64);
        let only = |allowed: &[&str]| self.qualifiers.iter().all(|(q, _)| allowed.contains(q));
        match self.ai {
            "01" => {
                // GTIN-14 = indicator + company prefix + item reference + check digit.
                let (ind, cp, item) = (&v[..1], &v[1..1 + g], &v[1 + g..13]);
                if let Some(ser) = self.qualifier("21") {
                    if !only(&["21"]) {
                        return None;
                    }
                    out.push_str(&format!("urn:epc:id:sgtin:{cp}.{ind}{item}."));
                    urn_escape(ser, &mut out);
                } else if let Some(lot) = self.qualifier("10") {
                    if !only(&["10"]) {
                        return None;
                    }
                    out.push_str(&format!("urn:epc:class:lgtin:{cp}.{ind}{item}."));
                    urn_escape(lot, &mut out);
                } else if let Some(tpx) = self.qualifier("235") {
                    if !only(&["235"]) {
                        return None;
                    }
                    out.push_str(&format!("urn:epc:id:upui:{cp}.{ind}{item}."));
                    urn_escape(tpx, &mut out);
                } else if self.qualifiers.is_empty() {
                    out.push_str(&format!("urn:epc:idpat:sgtin:{cp}.{ind}{item}.*"));
                } else {
                    return None;
                }
            }
            "00" => out.push_str(&format!("urn:epc:id:sscc:{}.{}{}", &v[1..1 + g], &v[..1], &v[1 + g..17])),
            "414" => {
                let ext = self.qualifier("254").unwrap_or("0");
                out.push_str(&format!("urn:epc:id:sgln:{}.{}.", &v[..g], &v[g..12]));
                urn_escape(ext, &mut out);
            }
            "417" => out.push_str(&format!("urn:epc:id:pgln:{}.{}", &v[..g], &v[g..12])),
            "8003" => {
                if v.len() == 14 {
                    out.push_str(&format!("urn:epc:idpat:grai:{}.{}.*", &v[1..1 + g], &v[1 + g..13]));
                    return Some(out);
                }
                out.push_str(&format!("urn:epc:id:grai:{}.{}.", &v[1..1 + g], &v[1 + g..13]));
                urn_escape(&v[14..], &mut out);
            }
            "8004" => {
                out.push_str(&format!("urn:epc:id:giai:{}.", v.get(..g)?));
                urn_escape(&v[g..], &mut out);
            }
            "8018" | "8017" => {
                if !self.qualifiers.is_empty() {
                    return None;
                }
                let scheme = if self.ai == "8018" { "gsrn" } else { "gsrnp" };
                out.push_str(&format!("urn:epc:id:{scheme}:{}.{}", &v[..g], &v[g..17]));
            }
            "253" => {
                if v.len() == 13 {
                    return Some(format!("urn:epc:idpat:gdti:{}.{}.*", &v[..g], &v[g..12]));
                }
                out.push_str(&format!("urn:epc:id:gdti:{}.{}.", &v[..g], &v[g..12]));
                urn_escape(&v[13..], &mut out);
            }
            "255" => {
                if v.len() == 13 {
                    return Some(format!("urn:epc:idpat:sgcn:{}.{}.*", &v[..g], &v[g..12]));
                }
                out.push_str(&format!("urn:epc:id:sgcn:{}.{}.{}", &v[..g], &v[g..12], &v[13..]));
            }
            "401" => {
                out.push_str(&format!("urn:epc:id:ginc:{}.", v.get(..g)?));
                urn_escape(&v[g..], &mut out);
            }
            "402" => out.push_str(&format!("urn:epc:id:gsin:{}.{}", &v[..g], &v[g..16])),
            "8006" => {
                let (ind, cp, item) = (&v[..1], &v[1..1 + g], &v[1 + g..13]);
                let Some(ser) = self.qualifier("21") else {
                    if !self.qualifiers.is_empty() {
                        return None;
                    }
                    return Some(format!("urn:epc:idpat:itip:{cp}.{ind}{item}.{}.{}.*", &v[14..16], &v[16..18]));
                };
                if !only(&["21"]) {
                    return None;
                }
                out.push_str(&format!("urn:epc:id:itip:{cp}.{ind}{item}.{}.{}.", &v[14..16], &v[16..18]));
                urn_escape(ser, &mut out);
            }
            "8010" => {
                let ser = self.qualifier("8011");
                out.push_str(&format!("urn:epc:{}:cpi:{}.", if ser.is_some() { "id" } else { "idpat" }, v.get(..g)?));
                urn_escape(&v[g..], &mut out);
                out.push('.');
                out.push_str(ser.unwrap_or("*"));
            }
            _ => return None,
        }
        Some(out)
    }
}

/// Recognises a GS1 Digital Link URI on any host (GS1 Digital Link 1.x §4.4: a custom domain
/// and a path prefix are allowed). `Ok(None)`: not a Digital Link at all.
fn parse_digital_link(s: &str) -> Result<Option<Gs1Key>, IdError> {
    let rest = match strip_prefix_ci(s, "https://").or_else(|| strip_prefix_ci(s, "http://")) {
        Some(r) => r,
        None => return Ok(None),
    };
    let on_gs1_host = strip_prefix_ci(s, CANONICAL_HOST).is_some();
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let mut segments = rest.split('/');
    let _host = segments.next();
    let segments: Vec<&str> = segments.collect();
    // The primary key is the first segment that names a key AI and is followed by a value of
    // the right shape; a path prefix may come before it.
    for start in 0..segments.len() {
        let Some((ai, allowed)) = primary_ai(segments[start]) else { continue };
        let Some(raw_value) = segments.get(start + 1) else { continue };
        let mut value = percent_decode(raw_value)?;
        if ai == "01" && all_digits(&value) && matches!(value.len(), 8 | 12 | 13) {
            value = format!("{value:0>14}"); // GTIN-8/12/13 padded to 14 digits (GS1 DL §4.5)
        }
        if let Err(e) = check_key_value(ai, &value) {
            if on_gs1_host {
                return Err(e);
            }
            continue;
        }
        let mut qualifiers = Vec::new();
        let mut i = start + 2;
        let mut last_pos = 0;
        while i < segments.len() {
            if segments[i].is_empty() && i + 1 == segments.len() {
                break; // trailing slash
            }
            let q = qualifier_ai(segments[i])
                .filter(|q| allowed.contains(q))
                .ok_or_else(|| IdError(format!("`{}` is not a qualifier of AI ({ai}) in `{s}`", segments[i])))?;
            let pos = allowed.iter().position(|a| *a == q).unwrap_or(0);
            if pos < last_pos && !qualifiers.is_empty() {
                return err(format!("qualifiers out of order in `{s}` (GS1 Digital Link §4.5)"));
            }
            last_pos = pos;
            let v = percent_decode(segments.get(i + 1).copied().unwrap_or(""))?;
            check_qualifier(q, &v)?;
            qualifiers.push((q, v));
            i += 2;
        }
        return Ok(Some(Gs1Key { ai, value, qualifiers }));
    }
    if on_gs1_host {
        return err(format!("`{s}` is on id.gs1.org but has no GS1 primary key"));
    }
    Ok(None)
}

fn split_parts<'a>(rest: &'a str, n: usize, scheme: &str) -> Result<Vec<&'a str>, IdError> {
    let parts: Vec<&str> = rest.split('.').collect();
    if parts.len() != n {
        return err(format!("urn:epc {scheme} needs {n} dot-separated parts, got `{rest}`"));
    }
    Ok(parts)
}

fn gcp_of(scheme: &str, cp: &str) -> Result<u8, IdError> {
    if !all_digits(cp) || !(6..=12).contains(&cp.len()) {
        return err(format!("{scheme}: company prefix `{cp}` must be 6 to 12 digits"));
    }
    Ok(cp.len() as u8)
}

fn need_digits(scheme: &str, what: &str, v: &str, len: usize) -> Result<(), IdError> {
    if v.len() != len || !(v.is_empty() || all_digits(v)) {
        return err(format!("{scheme}: {what} `{v}` must be {len} digits (with the company prefix)"));
    }
    Ok(())
}

/// Parses the part after `urn:epc:` (TDS 2.x §6.3 EPC URI grammar, §8 class and pattern URIs).
/// `Ok(None)`: a well-formed EPC URN of a non-GS1 scheme, kept as is.
fn epc_urn_to_key(rest: &str) -> Result<Option<(Gs1Key, u8)>, IdError> {
    let (kind, rest) = rest.split_once(':').ok_or_else(|| IdError(format!("`urn:epc:{rest}` is incomplete")))?;
    let (scheme, body) =
        rest.split_once(':').ok_or_else(|| IdError(format!("`urn:epc:{kind}:{rest}` is incomplete")))?;
    let key = |ai: &'static str, value: String, q: Vec<(&'static str, String)>| Gs1Key { ai, value, qualifiers: q };
    let out = match (kind, scheme) {
        ("id", "sgtin") | ("class", "lgtin") | ("id", "upui") => {
            let p = split_parts(body, 3, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "indicator and item reference", p[1], 13 - p[0].len())?;
            let gtin = with_check(&format!("{}{}{}", &p[1][..1], p[0], &p[1][1..]));
            let (ai, what) = match scheme {
                "sgtin" => ("21", "serial"),
                "lgtin" => ("10", "lot"),
                _ => ("235", "third-party serial"),
            };
            let v = urn_unescape(what, p[2])?;
            check_qualifier(ai, &v)?;
            (key("01", gtin, vec![(ai, v)]), gcp)
        }
        ("idpat", "sgtin") => {
            let p = split_parts(body, 3, scheme)?;
            if p[2] != "*" {
                return err(format!("urn:epc:idpat:sgtin `{body}`: only the class pattern `CP.IIR.*` is supported"));
            }
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "indicator and item reference", p[1], 13 - p[0].len())?;
            (key("01", with_check(&format!("{}{}{}", &p[1][..1], p[0], &p[1][1..])), vec![]), gcp)
        }
        // TDS 2.x §8: class-level patterns of keys that also exist without a serial.
        ("idpat", "grai" | "gdti" | "sgcn") => {
            let p = split_parts(body, 3, scheme)?;
            if p[2] != "*" {
                return err(format!("urn:epc:idpat:{scheme} `{body}`: only the class pattern `CP.REF.*` is supported"));
            }
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "reference", p[1], 12 - p[0].len())?;
            let base = with_check(&format!("{}{}", p[0], p[1]));
            let (ai, v) = match scheme {
                "grai" => ("8003", format!("0{base}")),
                "gdti" => ("253", base),
                _ => ("255", base),
            };
            (key(ai, v, vec![]), gcp)
        }
        ("idpat", "itip") => {
            let p = split_parts(body, 5, scheme)?;
            if p[4] != "*" {
                return err(format!("urn:epc:idpat:itip `{body}`: only the class pattern is supported"));
            }
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "indicator and item reference", p[1], 13 - p[0].len())?;
            need_digits(scheme, "piece", p[2], 2)?;
            need_digits(scheme, "total", p[3], 2)?;
            let gtin = with_check(&format!("{}{}{}", &p[1][..1], p[0], &p[1][1..]));
            (key("8006", format!("{gtin}{}{}", p[2], p[3]), vec![]), gcp)
        }
        ("idpat", "cpi") => {
            let p = split_parts(body, 3, scheme)?;
            if p[2] != "*" {
                return err(format!("urn:epc:idpat:cpi `{body}`: only the class pattern is supported"));
            }
            let gcp = gcp_of(scheme, p[0])?;
            let v = format!("{}{}", p[0], percent_decode(p[1])?);
            check_key_value("8010", &v)?;
            (key("8010", v, vec![]), gcp)
        }
        ("id", "sscc") => {
            let p = split_parts(body, 2, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "serial reference", p[1], 17 - p[0].len())?;
            (key("00", with_check(&format!("{}{}{}", &p[1][..1], p[0], &p[1][1..])), vec![]), gcp)
        }
        ("id", "sgln") => {
            let p = split_parts(body, 3, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "location reference", p[1], 12 - p[0].len())?;
            let ext = urn_unescape("GLN extension", p[2])?;
            let q = if ext == "0" { vec![] } else { vec![("254", ext)] };
            (key("414", with_check(&format!("{}{}", p[0], p[1])), q), gcp)
        }
        ("id", "pgln") => {
            let p = split_parts(body, 2, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "party reference", p[1], 12 - p[0].len())?;
            (key("417", with_check(&format!("{}{}", p[0], p[1])), vec![]), gcp)
        }
        ("id", "grai") => {
            let p = split_parts(body, 3, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "asset type", p[1], 12 - p[0].len())?;
            let ser = urn_unescape("GRAI serial", p[2])?;
            check_cs82("GRAI serial", &ser, 16)?;
            (key("8003", format!("0{}{ser}", with_check(&format!("{}{}", p[0], p[1]))), vec![]), gcp)
        }
        ("id", "giai") | ("id", "ginc") => {
            let p = split_parts(body, 2, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            let r = urn_unescape("reference", p[1])?;
            let v = format!("{}{r}", p[0]);
            let ai = if scheme == "giai" { "8004" } else { "401" };
            check_key_value(ai, &v)?;
            (key(ai, v, vec![]), gcp)
        }
        ("id", "gsrn") | ("id", "gsrnp") => {
            let p = split_parts(body, 2, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "service reference", p[1], 17 - p[0].len())?;
            let ai = if scheme == "gsrn" { "8018" } else { "8017" };
            (key(ai, with_check(&format!("{}{}", p[0], p[1])), vec![]), gcp)
        }
        ("id", "gdti") | ("id", "sgcn") => {
            let p = split_parts(body, 3, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "document type", p[1], 12 - p[0].len())?;
            let ser = urn_unescape("serial", p[2])?;
            let ai = if scheme == "gdti" { "253" } else { "255" };
            let v = format!("{}{ser}", with_check(&format!("{}{}", p[0], p[1])));
            check_key_value(ai, &v)?;
            (key(ai, v, vec![]), gcp)
        }
        ("id", "gsin") => {
            let p = split_parts(body, 2, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "shipper reference", p[1], 16 - p[0].len())?;
            (key("402", with_check(&format!("{}{}", p[0], p[1])), vec![]), gcp)
        }
        ("id", "itip") => {
            let p = split_parts(body, 5, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            need_digits(scheme, "indicator and item reference", p[1], 13 - p[0].len())?;
            need_digits(scheme, "piece", p[2], 2)?;
            need_digits(scheme, "total", p[3], 2)?;
            let gtin = with_check(&format!("{}{}{}", &p[1][..1], p[0], &p[1][1..]));
            let ser = urn_unescape("serial", p[4])?;
            check_qualifier("21", &ser)?;
            (key("8006", format!("{gtin}{}{}", p[2], p[3]), vec![("21", ser)]), gcp)
        }
        ("id", "cpi") => {
            let p = split_parts(body, 3, scheme)?;
            let gcp = gcp_of(scheme, p[0])?;
            let part = percent_decode(p[1])?;
            let v = format!("{}{part}", p[0]);
            check_key_value("8010", &v)?;
            check_qualifier("8011", p[2])?;
            (key("8010", v, vec![("8011", p[2].to_owned())]), gcp)
        }
        // Non-GS1 schemes of TDS §6.3 (and pattern/class forms we do not convert): kept verbatim
        // after a light shape check.
        ("id", "gid" | "usdod" | "adi" | "bic" | "imovn" | "gmn" | "sgcn2")
        | ("idpat", _)
        | ("class", _)
        | ("raw", _)
        | ("tag", _)
        | ("pat", _) => {
            if body.is_empty() || body.chars().any(|c| c.is_whitespace()) {
                return err(format!("`urn:epc:{kind}:{scheme}:{body}` is malformed"));
            }
            return Ok(None);
        }
        _ => return err(format!("`urn:epc:{kind}:{scheme}` is not an EPC scheme of the Tag Data Standard")),
    };
    Ok(Some(out))
}

/// Canonicalises any string value the way the event hash does (CBV 2.0 §8.9.3): EPC URNs and
/// Digital Links of GS1 keys become canonical Digital Links, everything else is unchanged.
pub(crate) fn canonical_for_hash(s: &str) -> Option<String> {
    if let Some(rest) = strip_prefix_ci(s, "urn:epc:") {
        return epc_urn_to_key(rest).ok().flatten().map(|(k, _)| k.to_digital_link());
    }
    if s.starts_with("http") {
        return parse_digital_link(s).ok().flatten().map(|k| k.to_digital_link());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gtin_sscc_and_gln_shortcuts_to_urns_agree_with_the_general_path() {
        let mut seed = 0x2545_f491_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let values = ["1", "A1b2", "00012345678901234567", "000123456789012345678", "", "a/b", "a%25b", "x.y", "S-1"];
        let mut cases = vec![
            "https://id.gs1.org/01/09506000134352/21/2067".to_owned(),
            "https://id.gs1.org/01/09506000134352".to_owned(),
            "https://id.gs1.org/01/09506000134352/10/P8D2/21/1".to_owned(),
            "https://id.gs1.org/00/069012340000000016".to_owned(),
            "https://example.com/01/09506000134352/21/1".to_owned(),
            "urn:epc:id:sgtin:0614141.107346.2017".to_owned(),
        ];
        for _ in 0..2_000 {
            let body: String = (0..13).map(|_| char::from(b'0' + next(10) as u8)).collect();
            let check = if next(4) == 0 { next(10) as u8 } else { gs1_check_digit(&body) };
            let ai = if next(2) == 0 { "21" } else { "10" };
            let value = values[next(values.len() as u64) as usize];
            cases.push(format!("https://id.gs1.org/01/{body}{check}/{ai}/{value}"));
            let body: String = (0..17).map(|_| char::from(b'0' + next(10) as u8)).collect();
            let check = if next(4) == 0 { next(10) as u8 } else { gs1_check_digit(&body) };
            let tail = ["", "", "", "1", "/21/1"][next(5) as usize];
            cases.push(format!("https://id.gs1.org/00/{body}{check}{tail}"));
            let body: String = (0..12).map(|_| char::from(b'0' + next(10) as u8)).collect();
            let check = if next(4) == 0 { next(10) as u8 } else { gs1_check_digit(&body) };
            let ai = if next(2) == 0 { "414" } else { "417" };
            let tail = match next(4) {
                0 | 1 => String::new(),
                2 => format!("/254/{}", values[next(values.len() as u64) as usize]),
                _ => "/21/1".to_owned(),
            };
            cases.push(format!("https://id.gs1.org/{ai}/{body}{check}{tail}"));
        }
        let (mut gtins, mut ssccs, mut glns) = (0, 0, 0);
        for c in &cases {
            assert_eq!(Epc::canonical_to_urn(c), general_to_urn(c), "{c}");
            let mut pushed = String::from("x");
            Epc::push_canonical_urn(c, &mut pushed);
            assert_eq!(pushed[1..], general_to_urn(c), "{c}");
            type Shortcut = fn(&str, &mut String) -> bool;
            let shortcuts: [(Shortcut, &mut usize); 3] =
                [(gtin_urn, &mut gtins), (sscc_urn, &mut ssccs), (gln_urn, &mut glns)];
            for (shortcut, taken) in shortcuts {
                let mut out = String::new();
                if shortcut(c, &mut out) {
                    assert_eq!(out, general_to_urn(c), "{c}");
                    *taken += 1;
                } else {
                    assert_eq!(out, "", "a shortcut that declines writes nothing: {c}");
                }
            }
        }
        // The hash relies on this: a GS1 key's canonical form is canonical already.
        let mut fixed = 0;
        for c in &cases {
            if let Ok(e) = Epc::parse(c).map_err(|_| ()).and_then(|e| if e.is_gs1_key() { Ok(e) } else { Err(()) }) {
                assert_eq!(canonical_for_hash(e.as_str()).as_deref(), Some(e.as_str()), "{c}");
                fixed += 1;
            }
        }
        assert!(fixed > 2_000, "{fixed} canonical keys");
        assert!(gtins > 300 && ssccs > 300 && glns > 300, "{gtins} GTIN, {ssccs} SSCC, {glns} GLN shortcuts");
        assert!(gtins + ssccs + glns < cases.len(), "every case took a shortcut");
    }

    fn dl(s: &str) -> String {
        Epc::parse(s).unwrap().as_str().to_string()
    }

    #[test]
    fn urns_become_canonical_digital_links() {
        assert_eq!(dl("urn:epc:id:sgtin:0614141.107346.2017"), "https://id.gs1.org/01/10614141073464/21/2017");
        assert_eq!(dl("urn:epc:id:sscc:4012345.3111111111"), "https://id.gs1.org/00/340123451111111111");
        assert_eq!(dl("urn:epc:id:sgln:4012345.00005.0"), "https://id.gs1.org/414/4012345000054");
        assert_eq!(dl("urn:epc:id:sgln:4012345.00005.122"), "https://id.gs1.org/414/4012345000054/254/122");
        assert_eq!(dl("urn:epc:id:grai:4012345.00022.334455"), "https://id.gs1.org/8003/04012345000221334455");
        assert_eq!(dl("urn:epc:id:gdti:987659999999..9"), "https://id.gs1.org/253/98765999999929");
        assert_eq!(dl("urn:epc:id:pgln:999999999999."), "https://id.gs1.org/417/9999999999994");
        assert_eq!(dl("urn:epc:id:itip:4012345.011111.01.02.987"), "https://id.gs1.org/8006/040123451111180102/21/987");
        assert_eq!(dl("urn:epc:class:lgtin:4012345.012345.Lot987"), "https://id.gs1.org/01/04012345123456/10/Lot987");
        assert_eq!(
            dl("urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()"),
            "https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22%21%3F%28%29"
        );
        assert_eq!(dl("urn:epc:idpat:sgtin:4012345.066666.*"), "https://id.gs1.org/01/04012345666663");
    }

    #[test]
    fn canonical_to_urn_agrees_with_parse_and_render() {
        for id in [
            "urn:epc:id:sgtin:0614141.107346.2017",
            "urn:epc:id:sscc:4012345.3111111111",
            "urn:epc:id:sgln:4012345.00005.122",
            "urn:epc:id:pgln:999999999999.",
            "urn:epc:class:lgtin:4012345.012345.Lot987",
            "urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()",
            "urn:epc:idpat:sgtin:4012345.066666.*",
            "https://id.gs1.org/01/09521234543213/10/LOT-7/21/1",
            "urn:example:thing:1",
            "https://example.com/not/a/key",
        ] {
            let epc = Epc::parse(id).unwrap();
            assert_eq!(
                Epc::canonical_to_urn(epc.as_str()),
                Epc::parse(epc.as_str()).unwrap().render_preferring_urn(),
                "{id}"
            );
        }
    }

    #[test]
    fn digital_links_on_other_hosts_and_aliases_are_canonicalised() {
        assert_eq!(dl("https://id.gs1.org/gtin/09780345418913"), "https://id.gs1.org/01/09780345418913");
        assert_eq!(
            dl("https://example.com/gtin/09780345418913/21/765tz?abc=211121"),
            "https://id.gs1.org/01/09780345418913/21/765tz"
        );
        assert_eq!(dl("https://example.com/shop/01/9780345418913"), "https://id.gs1.org/01/09780345418913");
        assert_eq!(dl("http://example.org/2019/01/05"), "http://example.org/2019/01/05");
    }

    #[test]
    fn wrong_check_digits_and_bad_grammar_are_refused() {
        assert!(Epc::parse("https://id.gs1.org/01/10614141073465/21/2017").is_err());
        assert!(Epc::parse("https://id.gs1.org/414/4012345000055").is_err());
        assert!(Epc::parse("urn:epc:id:sgtin:0614141.10734.2017").is_err());
        assert!(Epc::parse("urn:epc:id:sgtin:0614141.107346").is_err());
        assert!(Epc::parse("urn:epc:id:sscc:4012345.311111111").is_err());
        assert!(Epc::parse("urn:epc:id:nonsense:1.2").is_err());
        assert!(Epc::parse("not a uri").is_err());
        assert!(Epc::parse("https://id.gs1.org/01/10614141073464/99/1").is_err());
    }

    #[test]
    fn urn_round_trip_uses_the_remembered_prefix_length() {
        for urn in [
            "urn:epc:id:sgtin:0614141.107346.2017",
            "urn:epc:id:sgtin:415056789012.0.987654",
            "urn:epc:id:sscc:4012345.3111111111",
            "urn:epc:id:sgln:4012345.00005.0",
            "urn:epc:id:sgln:4012345.00005.122",
            "urn:epc:id:grai:4012345.00022.334455",
            "urn:epc:id:giai:4012345.ABC345",
            "urn:epc:id:gsrn:4012345.0000006765",
            "urn:epc:id:gdti:4012345.00009.PO-4711",
            "urn:epc:id:pgln:4000001.00000",
            "urn:epc:class:lgtin:4012345.012345.Lot987",
            "urn:epc:id:itip:4012345.011111.01.02.987",
            "urn:epc:idpat:sgtin:4012345.066666.*",
            "urn:epc:idpat:grai:4012345.66666.*",
            "urn:epc:idpat:gdti:4012345.55555.*",
            "urn:epc:idpat:itip:4012345.012345.01.02.*",
            "urn:epc:idpat:cpi:4012345.ABC.*",
            "urn:epc:id:cpi:0614141.11111111111111-A%23%2F.1234",
        ] {
            let e = Epc::parse(urn).unwrap();
            assert_eq!(e.render(EpcFormat::EpcUrn), urn, "{urn}");
            let back = Epc::parse(&e.render(EpcFormat::EpcUrn)).unwrap();
            assert_eq!(back, e);
        }
    }

    #[test]
    fn digital_link_to_urn_falls_back_to_a_guessed_prefix_length_without_losing_identity() {
        let e = Epc::parse("https://id.gs1.org/01/04150567890128/21/987654").unwrap();
        let urn = e.to_epc_urn(None).unwrap();
        assert_eq!(urn, "urn:epc:id:sgtin:4150567.089012.987654");
        assert_eq!(Epc::parse(&urn).unwrap(), e);
        assert_eq!(e.to_epc_urn(Some(12)).unwrap(), "urn:epc:id:sgtin:415056789012.0.987654");
    }

    #[test]
    fn check_digit_matches_gs1_examples() {
        assert_eq!(gs1_check_digit("1061414107346"), 4);
        assert_eq!(gs1_check_digit("401234500005"), 4);
    }
}
