//! Compact string storage: identifiers interned to `u32`, event IDs packed.
//!
//! Ten million events name tens of millions of identifiers; a `HashMap<String, u32>` would
//! spend more on headers than on text. Here every string lives once in one byte arena, the
//! common canonical prefix `https://id.gs1.org/` is one tag byte, and the hash table holds
//! only `u32` ids (open addressing, linear probing).

use crate::IndexError;

/// Marker for "no identifier".
pub(crate) const NONE: u32 = u32::MAX;

const GS1_HOST: &str = "https://id.gs1.org/";
const TAG_RAW: u8 = 0;
const TAG_GS1: u8 = 1;

/// 64-bit multiply-rotate hash over bytes (FxHash style): fast, deterministic across runs.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    // Final avalanche so the low bits used for the bucket depend on every byte.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn encode(s: &str, out: &mut Vec<u8>) {
    match s.strip_prefix(GS1_HOST) {
        Some(rest) => {
            out.push(TAG_GS1);
            out.extend_from_slice(rest.as_bytes());
        }
        None => {
            out.push(TAG_RAW);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Interned identifiers: canonical string ↔ dense `u32`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    arena: String,
    /// Start of each string in `arena`; one extra entry at the end.
    starts: Vec<u32>,
    /// Open-addressing table of `id + 1` (0 = empty); length a power of two.
    table: Vec<u32>,
    scratch: Vec<u8>,
}

impl Interner {
    pub(crate) fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn encoded(&self, id: u32) -> &[u8] {
        let i = id as usize;
        &self.arena.as_bytes()[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The string of an id.
    pub(crate) fn resolve(&self, id: u32) -> String {
        let i = id as usize;
        let mut s = String::with_capacity(GS1_HOST.len() + (self.starts[i + 1] - self.starts[i]) as usize);
        self.push_to(id, &mut s);
        s
    }

    /// Appends the string of an id to `out`.
    pub(crate) fn push_to(&self, id: u32, out: &mut String) {
        let i = id as usize;
        let (start, end) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        if self.arena.as_bytes()[start] == TAG_GS1 {
            out.push_str(GS1_HOST);
        }
        out.push_str(&self.arena[start + 1..end]);
    }

    fn find(&self, key: &[u8], h: u64) -> Result<u32, usize> {
        if self.table.is_empty() {
            return Err(usize::MAX);
        }
        let mask = self.table.len() - 1;
        let mut slot = (h as usize) & mask;
        loop {
            match self.table[slot] {
                0 => return Err(slot),
                v if self.encoded(v - 1) == key => return Ok(v - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// The id of a string already interned.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        let mut key = Vec::with_capacity(s.len() + 1);
        encode(s, &mut key);
        self.find(&key, hash_bytes(&key)).ok()
    }

    /// The id of a string, interning it when new.
    pub(crate) fn intern(&mut self, s: &str) -> Result<u32, IndexError> {
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        encode(s, &mut key);
        let h = hash_bytes(&key);
        let found = self.find(&key, h);
        let id = match found {
            Ok(id) => id,
            Err(_) => {
                let id =
                    u32::try_from(self.len()).ok().filter(|&i| i < NONE).ok_or(IndexError::Capacity("identifiers"))?;
                if self.starts.is_empty() {
                    self.starts.push(0);
                }
                self.arena.push_str(std::str::from_utf8(&key).expect("an ASCII tag and a str are UTF-8"));
                let end = u32::try_from(self.arena.len()).map_err(|_| IndexError::Capacity("identifier text"))?;
                self.starts.push(end);
                if (self.len() + 1) * 3 > self.table.len() * 2 {
                    self.grow();
                } else {
                    let slot = self.find(&key, h).expect_err("new key is absent");
                    self.table[slot] = id + 1;
                }
                id
            }
        };
        self.scratch = key;
        Ok(id)
    }

    fn grow(&mut self) {
        let cap = (self.len() * 2).next_power_of_two().max(64);
        self.table = vec![0; cap];
        let mask = cap - 1;
        for id in 0..self.len() as u32 {
            let mut slot = (hash_bytes(self.encoded(id)) as usize) & mask;
            while self.table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.table[slot] = id + 1;
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.arena.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.starts.capacity() * 4 + self.table.capacity() * 4
    }
}

const EID_RAW: u8 = 0;
const EID_HASH: u8 = 1;
const EID_UUID: u8 = 2;
const HASH_PREFIX: &str = "ni:///sha-256;";
const HASH_SUFFIX: &str = "?ver=CBV2.0";
const UUID_PREFIX: &str = "urn:uuid:";

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn unhex(s: &str, out: &mut Vec<u8>) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return false;
    }
    let start = out.len();
    for pair in b.chunks_exact(2) {
        match (hex_val(pair[0]), hex_val(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
    true
}

fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

/// Event IDs, one per event, packed: the CBV 2.0 §8.9 hash form (`ni:///sha-256;<hex>?ver=CBV2.0`)
/// as its 32 bytes and `urn:uuid:` IDs as their 16 bytes, anything else verbatim. Event IDs are
/// unique, so interning would not help; packing halves the biggest string cost of the index.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventIds {
    bytes: Vec<u8>,
    starts: Vec<u32>,
}

impl EventIds {
    pub(crate) fn push(&mut self, id: Option<&str>) -> Result<(), IndexError> {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        if let Some(id) = id {
            let mark = self.bytes.len();
            let packed = if let Some(h) = id.strip_prefix(HASH_PREFIX).and_then(|r| r.strip_suffix(HASH_SUFFIX)) {
                self.bytes.push(EID_HASH);
                h.len() == 64 && unhex(h, &mut self.bytes)
            } else if let Some(u) = id.strip_prefix(UUID_PREFIX) {
                let b = u.as_bytes();
                self.bytes.push(EID_UUID);
                u.len() == 36
                    && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
                    && unhex(&u.replace('-', ""), &mut self.bytes)
            } else {
                false
            };
            if !packed {
                self.bytes.truncate(mark);
                self.bytes.push(EID_RAW);
                self.bytes.extend_from_slice(id.as_bytes());
            }
        }
        self.starts.push(u32::try_from(self.bytes.len()).map_err(|_| IndexError::Capacity("event ids"))?);
        Ok(())
    }

    pub(crate) fn get(&self, ev: u32) -> Option<String> {
        let i = ev as usize;
        let b = &self.bytes[self.starts[i] as usize..self.starts[i + 1] as usize];
        let (&tag, rest) = b.split_first()?;
        let mut s = String::with_capacity(80);
        match tag {
            EID_HASH => {
                s.push_str(HASH_PREFIX);
                push_hex(rest, &mut s);
                s.push_str(HASH_SUFFIX);
            }
            EID_UUID => {
                s.push_str(UUID_PREFIX);
                // 8-4-4-4-12 hex digits (RFC 9562 §4).
                for (k, group) in
                    [&rest[..4], &rest[4..6], &rest[6..8], &rest[8..10], &rest[10..]].into_iter().enumerate()
                {
                    if k > 0 {
                        s.push('-');
                    }
                    push_hex(group, &mut s);
                }
            }
            _ => s.push_str(std::str::from_utf8(rest).expect("event ids are UTF-8")),
        }
        Some(s)
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.starts.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_round_trips_and_deduplicates() {
        let mut i = Interner::default();
        let mut ids = Vec::new();
        for n in 0..5000 {
            let s = if n % 2 == 0 { format!("https://id.gs1.org/00/{n:018}") } else { format!("urn:x:{n}") };
            ids.push((i.intern(&s).unwrap(), s));
        }
        for (id, s) in &ids {
            assert_eq!(i.resolve(*id), *s);
            let mut pushed = "before:".to_owned();
            i.push_to(*id, &mut pushed);
            assert_eq!(pushed, format!("before:{s}"));
            assert_eq!(i.intern(s).unwrap(), *id);
            assert_eq!(i.get(s), Some(*id));
        }
        assert_eq!(i.len(), 5000);
        assert_eq!(i.get("urn:x:missing"), None);
        let long = format!("https://id.gs1.org/01/09521234543213/21/{}", "x".repeat(200));
        let id = i.intern(&long).unwrap();
        assert_eq!(i.resolve(id), long);
    }

    #[test]
    fn event_ids_pack_and_unpack_exactly() {
        let hash = format!("ni:///sha-256;{}?ver=CBV2.0", "0123456789abcdef".repeat(4));
        let cases = [
            Some(hash.as_str()),
            Some("urn:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            Some("urn:uuid:NOT-A-UUID"),
            Some("ni:///sha-256;ABC?ver=CBV2.0"),
            Some("https://example.com/event/1"),
            None,
        ];
        let mut e = EventIds::default();
        for c in cases {
            e.push(c).unwrap();
        }
        for (n, c) in cases.iter().enumerate() {
            assert_eq!(e.get(n as u32).as_deref(), *c);
        }
    }
}
