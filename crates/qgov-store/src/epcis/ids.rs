//! SQLite only: every stored eventID, in memory, instead of a unique B-tree index.
//!
//! Why: eventIDs are mostly CBV event hashes (`ni:///sha-256;…`), so each new event lands on a
//! random leaf of an index on them. Once that index outgrows the page cache, each event of a
//! capture reads and writes a leaf page of its own (docs/BENCHMARKS.md): at a million events
//! it was the largest single cost of a capture. Here an eventID costs a 64-bit hash and a
//! hash-map slot (about 20 bytes).
//!
//! The map holds 64-bit hashes, not the identifiers: a hash names candidate keys, and whoever
//! relies on an answer reads the candidate rows' `event_id` to confirm it (the capture writer
//! before it calls an event a duplicate; a query keeps `e.event_id IN (…)` beside the keys).
//! So a collision costs a read, never a wrong answer.
//!
//! Like the place index it is a cache of committed rows with a high-water mark (`mark`):
//! events are append-only and keys grow in commit order, so whoever reads the rows above the
//! mark may add them. The capture writer adds the events it committed after its COMMIT, and
//! catches up at the start of each transaction (under SQLite's write lock) with what other
//! processes committed; queries catch up before they look. Rows of a transaction that has not
//! committed are never added (the writer keeps a group's new events aside until its COMMIT).

use super::native::{Out, RawConn};
use crate::Result;
use sqlx::Row;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// Rows read per round trip while catching up through the pool.
const CHUNK: i64 = 100_000;

/// The 64-bit hash an eventID is filed under (SipHash with fixed keys: the same in every
/// process, though nothing depends on that).
pub fn hash(id: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(id)
}

#[derive(Debug, Default)]
pub struct EventIds {
    /// Every event with a key up to this one is in the map.
    mark: i64,
    /// Hash → key of the first event filed under it.
    first: HashMap<u64, i64>,
    /// Further events whose eventIDs share a hash with an earlier one (practically never).
    more: Vec<(u64, i64)>,
}

impl EventIds {
    /// An empty map that will hold the events above `mark` (to be merged into one that holds
    /// those up to it).
    pub fn above(mark: i64) -> Self {
        EventIds { mark, ..Default::default() }
    }

    pub fn mark(&self) -> i64 {
        self.mark
    }

    /// Keys of the events whose eventID may be `id` (confirm by reading their rows).
    pub fn candidates(&self, id: &str) -> Vec<i64> {
        let h = hash(id);
        let mut out: Vec<i64> = self.first.get(&h).copied().into_iter().collect();
        out.extend(self.more.iter().filter(|(x, _)| *x == h).map(|(_, pk)| *pk));
        out
    }

    /// Files committed events given in ascending key order, skipping those at or below the
    /// mark (already filed by someone else).
    pub fn absorb<'a>(&mut self, rows: impl IntoIterator<Item = (i64, &'a str)>) {
        for (pk, id) in rows {
            if pk <= self.mark {
                continue;
            }
            self.file(hash(id), pk);
            self.mark = pk;
        }
    }

    fn file(&mut self, h: u64, pk: i64) {
        use std::collections::hash_map::Entry;
        match self.first.entry(h) {
            Entry::Vacant(v) => {
                v.insert(pk);
            }
            Entry::Occupied(_) => self.more.push((h, pk)),
        }
    }

    /// Catches up on the writer's connection, which must hold SQLite's write lock and must not
    /// have written anything in its transaction yet (else its own uncommitted rows would be
    /// filed). Also how a fresh map is read whole at start ([`read_native`]).
    pub fn catch_up_native(&mut self, conn: &mut RawConn) -> Result<()> {
        let sql = "SELECT id, event_id FROM epcis_events WHERE id > ?1 ORDER BY id";
        conn.each(sql, &[super::V::I(Some(self.mark))], |r| {
            if let (Out::Int(pk), Out::Text(id)) = (r.get(0), r.get(1))
                && pk > self.mark
            {
                self.file(hash(&id), pk);
                self.mark = pk;
            }
        })
    }

    /// Adds what `fresh` read above some earlier mark of this map (see [`read_native`]): the
    /// events this map has not filed meanwhile.
    pub fn merge(&mut self, fresh: EventIds) {
        if self.mark == 0 && self.first.is_empty() {
            *self = fresh;
            return;
        }
        let m = self.mark;
        for (h, pk) in fresh.first.into_iter().chain(fresh.more) {
            if pk > m {
                self.file(h, pk);
            }
        }
        self.mark = self.mark.max(fresh.mark);
    }
}

/// Reads the events above `ids`' mark on a connection of its own, without holding the lock
/// while it reads (a large store at start: seconds), then merges them in.
pub fn read_native(ids: &std::sync::Mutex<EventIds>, path: &str) -> Result<()> {
    let mut fresh = EventIds::above(ids.lock().unwrap_or_else(|p| p.into_inner()).mark);
    fresh.catch_up_native(&mut RawConn::open(path)?)?;
    ids.lock().unwrap_or_else(|p| p.into_inner()).merge(fresh);
    Ok(())
}

/// Brings `ids` up to every committed event through the pool. The lock is taken only to read
/// the mark and to file what was read, never across a query.
pub async fn catch_up(ids: &std::sync::Mutex<EventIds>, pool: &sqlx::AnyPool) -> Result<()> {
    loop {
        let mark = ids.lock().unwrap_or_else(|p| p.into_inner()).mark;
        let rows = sqlx::query("SELECT id, event_id FROM epcis_events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(mark)
            .bind(CHUNK)
            .fetch_all(pool)
            .await?;
        let mut read: Vec<(i64, String)> = Vec::with_capacity(rows.len());
        for r in &rows {
            read.push((r.try_get(0)?, r.try_get(1)?));
        }
        ids.lock().unwrap_or_else(|p| p.into_inner()).absorb(read.iter().map(|(pk, id)| (*pk, id.as_str())));
        if (rows.len() as i64) < CHUNK {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filed_ids_name_their_keys_and_repeats_below_the_mark_are_skipped() {
        let mut ids = EventIds::default();
        ids.absorb([(1, "a"), (2, "b"), (3, "c")]);
        assert_eq!((ids.candidates("b"), ids.candidates("z"), ids.mark()), (vec![2], vec![], 3));
        // Someone else read rows 2..=5 meanwhile: 2 and 3 are not filed twice.
        ids.absorb([(2, "b"), (3, "c"), (4, "d"), (5, "b")]);
        assert_eq!((ids.candidates("d"), ids.mark()), (vec![4], 5));
        // Two events under one hash (here, one eventID stored twice by an older version that
        // allowed it, or a true collision): both are candidates, confirmed by their rows.
        assert_eq!(ids.candidates("b"), vec![2, 5]);
        assert_eq!(hash("b"), hash("b"));
        // A map read elsewhere from mark 3 up to 7, merged after this one filed 6 by itself:
        // only 7 is new to it, and nothing is filed twice.
        let mut fresh = EventIds { mark: 3, ..Default::default() };
        fresh.absorb([(4, "d"), (5, "b"), (6, "g"), (7, "h")]);
        ids.absorb([(6, "g")]);
        ids.merge(fresh);
        assert_eq!(ids.mark(), 7);
        assert_eq!((ids.candidates("d"), ids.candidates("b")), (vec![4], vec![2, 5]));
        assert_eq!((ids.candidates("g"), ids.candidates("h")), (vec![6], vec![7]));
        assert_ne!(hash("b"), hash("c"));
    }
}
