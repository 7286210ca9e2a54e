//! SQLite only: the places events name (read point, business location, their GLNs, sources and
//! destinations), indexed in memory instead of in B-trees.
//!
//! Why: a capture document of a district repository names hundreds of sites, and each site's
//! entries in a B-tree index sit on their own leaf page. On SQLite every leaf a transaction
//! touches is written whole to the WAL and again at checkpoint, so six such indexes cost about
//! six 4 KiB pages per event of such a document: half of the capture time
//! (docs/BENCHMARKS.md). Kept here instead, an event costs a few pushes onto vectors.
//!
//! The index is a cache of committed rows with a high-water mark: it covers every event whose
//! key is at most its `mark`. Events are only ever appended (keys grow with commit
//! order, rows never change or go), so [`PlaceIndex::refresh`] brings it up to date by reading
//! the rows above the mark, whoever wrote them (this process's writer, another process on the
//! same file, an older version before an upgrade). Every reader refreshes before it looks, so a
//! query never misses an event committed before it started. PostgreSQL keeps its B-tree
//! indexes and does not use this module.

use crate::Result;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// Rows read per round trip while catching up.
const CHUNK: i64 = 50_000;

/// Event keys, ascending, without repeats.
type Postings = Vec<i64>;

fn post(map_entry: &mut Postings, pk: i64) {
    if map_entry.last() != Some(&pk) {
        map_entry.push(pk);
    }
}

/// Identifier → its events.
type ById = HashMap<Box<str>, Postings>;

#[derive(Debug, Default)]
pub struct PlaceIndex {
    mark: i64,
    /// Ordered, for `WD_` (a location and the ones beneath it are a key range).
    read_point: BTreeMap<Box<str>, Postings>,
    biz_location: BTreeMap<Box<str>, Postings>,
    /// Every GLN an event names (read point, business location, source, destination): the
    /// enterprise visibility rule asks "does the event name one of these GLNs".
    gln: HashMap<Box<str>, Postings>,
    /// `EQ_source_<type>` / `EQ_destination_<type>`: by direction (sources, then
    /// destinations), type and identifier.
    source_dest: [HashMap<Box<str>, ById>; 2],
}

/// The places of events a writer has just committed, in key order: what
/// [`PlaceIndex::refresh`] would read back from their rows.
#[derive(Debug, Default)]
pub struct Fresh {
    /// The events' keys are `from + 1 ..= to`, every one of them here.
    from: i64,
    to: i64,
    /// Keys were not one run (a capture keyed away from the previous one's end).
    gapped: bool,
    /// Key; read point, business location, their GLNs.
    pub(crate) events: Vec<(i64, [Option<String>; 4])>,
    /// Key, destination (or source), type, identifier, GLN.
    pub(crate) source_dest: Vec<(i64, bool, String, String, Option<String>)>,
}

impl Fresh {
    /// Notes that a capture keyed `count` events after `last`.
    pub fn keyed(&mut self, last: i64, count: usize) {
        if self.to == self.from {
            self.from = last;
        } else if self.to != last {
            self.gapped = true;
        }
        self.to = last + count as i64;
    }
}

/// Which location column a filter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    ReadPoint,
    BizLocation,
}

impl PlaceIndex {
    /// Every event keyed up to here is indexed.
    #[cfg(test)]
    pub fn mark(&self) -> i64 {
        self.mark
    }

    /// Reads the events committed above the mark and indexes them.
    pub async fn refresh(&mut self, pool: &sqlx::AnyPool) -> Result<()> {
        loop {
            let rows = sqlx::query(
                "SELECT id, read_point, biz_location, read_point_gln, biz_location_gln FROM epcis_events \
                 WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(self.mark)
            .bind(CHUNK)
            .fetch_all(pool)
            .await?;
            let Some(last) = rows.last() else { return Ok(()) };
            let top: i64 = last.try_get(0)?;
            // The event rows above were committed, and with them every source and destination
            // row of theirs (one transaction per capture): no later commit adds rows below `top`.
            let sd = sqlx::query(
                "SELECT event_pk, direction, type, id, gln FROM epcis_source_dest \
                 WHERE event_pk > $1 AND event_pk <= $2 ORDER BY event_pk",
            )
            .bind(self.mark)
            .bind(top)
            .fetch_all(pool)
            .await?;
            // In key order across both tables, so that every postings list stays ascending.
            let mut sd = sd.iter().peekable();
            for r in &rows {
                let pk: i64 = r.try_get(0)?;
                let rp: Option<String> = r.try_get(1)?;
                let bl: Option<String> = r.try_get(2)?;
                let rp_gln: Option<String> = r.try_get(3)?;
                let bl_gln: Option<String> = r.try_get(4)?;
                self.add_event(pk, rp.as_deref(), bl.as_deref(), rp_gln.as_deref(), bl_gln.as_deref());
                while let Some(x) = sd.next_if(|x| x.try_get::<i64, _>(0).is_ok_and(|p| p <= pk)) {
                    let direction: String = x.try_get(1)?;
                    let kind: Option<String> = x.try_get(2)?;
                    let id: String = x.try_get(3)?;
                    let gln: Option<String> = x.try_get(4)?;
                    let at: i64 = x.try_get(0)?;
                    self.add_source_dest(
                        at,
                        direction == "destination",
                        kind.as_deref().unwrap_or(""),
                        &id,
                        gln.as_deref(),
                    );
                }
            }
            self.mark = top;
            if (rows.len() as i64) < CHUNK {
                return Ok(());
            }
        }
    }

    /// Indexes the events a writer has just committed, when the index stands exactly where
    /// they begin; otherwise (another process committed between, or a reader caught up on
    /// them first) leaves them to [`PlaceIndex::refresh`], which reads the rows. Returns
    /// whether it took them.
    pub fn absorb(&mut self, fresh: &Fresh) -> bool {
        if fresh.gapped || fresh.to <= fresh.from || self.mark != fresh.from {
            return false;
        }
        // In key order across both lists, as `refresh` does.
        let mut sd = fresh.source_dest.iter().peekable();
        for (pk, [rp, bl, rp_gln, bl_gln]) in &fresh.events {
            self.add_event(*pk, rp.as_deref(), bl.as_deref(), rp_gln.as_deref(), bl_gln.as_deref());
            while let Some((at, destination, kind, id, gln)) = sd.next_if(|x| x.0 <= *pk) {
                self.add_source_dest(*at, *destination, kind, id, gln.as_deref());
            }
        }
        self.mark = fresh.to;
        true
    }

    /// Reads the events above the mark on a native connection: what a large store does at
    /// start (the pool's driver converts every value and takes minutes at 10 M events).
    pub fn catch_up_native(&mut self, conn: &mut super::native::RawConn) -> Result<()> {
        use super::native::Out;
        let text = |o: Out| match o {
            Out::Text(t) => Some(t),
            _ => None,
        };
        let from = self.mark;
        let mut top = from;
        conn.each(
            "SELECT id, read_point, biz_location, read_point_gln, biz_location_gln FROM epcis_events \
             WHERE id > ?1 ORDER BY id",
            &[super::V::I(Some(from))],
            |r| {
                if let Out::Int(pk) = r.get(0) {
                    let (rp, bl, rp_gln, bl_gln) = (text(r.get(1)), text(r.get(2)), text(r.get(3)), text(r.get(4)));
                    self.add_event(pk, rp.as_deref(), bl.as_deref(), rp_gln.as_deref(), bl_gln.as_deref());
                    top = pk;
                }
            },
        )?;
        // Their sources and destinations, after all events: the GLN lists, which take keys from
        // both, are put back in order below.
        conn.each(
            "SELECT event_pk, direction, type, id, gln FROM epcis_source_dest \
             WHERE event_pk > ?1 AND event_pk <= ?2 ORDER BY event_pk",
            &[super::V::I(Some(from)), super::V::I(Some(top))],
            |r| {
                if let (Out::Int(pk), Some(direction), Some(id)) = (r.get(0), text(r.get(1)), text(r.get(3))) {
                    let (kind, gln) = (text(r.get(2)), text(r.get(4)));
                    self.add_source_dest(
                        pk,
                        direction == "destination",
                        kind.as_deref().unwrap_or(""),
                        &id,
                        gln.as_deref(),
                    );
                }
            },
        )?;
        for list in self.gln.values_mut() {
            if !list.is_sorted() {
                list.sort_unstable();
                list.dedup();
            }
        }
        self.mark = top;
        Ok(())
    }

    fn add_event(&mut self, pk: i64, rp: Option<&str>, bl: Option<&str>, rp_gln: Option<&str>, bl_gln: Option<&str>) {
        if let Some(v) = rp {
            post(entry(&mut self.read_point, v), pk);
        }
        if let Some(v) = bl {
            post(entry(&mut self.biz_location, v), pk);
        }
        for g in [rp_gln, bl_gln].into_iter().flatten() {
            post(slot(&mut self.gln, g), pk);
        }
    }

    fn add_source_dest(&mut self, pk: i64, destination: bool, kind: &str, id: &str, gln: Option<&str>) {
        post(slot(slot(&mut self.source_dest[usize::from(destination)], kind), id), pk);
        if let Some(g) = gln {
            post(slot(&mut self.gln, g), pk);
        }
    }

    /// Events whose read point (or business location) is one of `values`; with
    /// `descendants`, or lies beneath one of them (`v/…`, see `Filter::WithDescendants`).
    pub fn at(&self, place: Place, values: &[String], descendants: bool) -> Vec<i64> {
        let map = match place {
            Place::ReadPoint => &self.read_point,
            Place::BizLocation => &self.biz_location,
        };
        let mut lists: Vec<&Postings> = Vec::new();
        for v in values {
            lists.extend(map.get(v.as_str()));
            if descendants {
                let (lo, hi) = (format!("{v}/"), format!("{v}0"));
                lists.extend(
                    map.range::<str, _>((
                        std::ops::Bound::Included(lo.as_str()),
                        std::ops::Bound::Excluded(hi.as_str()),
                    ))
                    .map(|(_, p)| p),
                );
            }
        }
        union(&lists)
    }

    /// Distinct read points (or business locations) after `after`, in order, at most `limit`.
    pub fn names(&self, place: Place, after: Option<&str>, limit: usize) -> Vec<String> {
        let map = match place {
            Place::ReadPoint => &self.read_point,
            Place::BizLocation => &self.biz_location,
        };
        let from = match after {
            Some(a) => std::ops::Bound::Excluded(a),
            None => std::ops::Bound::Unbounded,
        };
        map.range::<str, _>((from, std::ops::Bound::Unbounded)).take(limit).map(|(k, _)| k.to_string()).collect()
    }

    /// Events with a source (`destination`: a destination) of type `kind` among `ids`.
    pub fn source_dest(&self, destination: bool, kind: &str, ids: &[String]) -> Vec<i64> {
        let Some(by_id) = self.source_dest[usize::from(destination)].get(kind) else { return Vec::new() };
        let lists: Vec<&Postings> = ids.iter().filter_map(|id| by_id.get(id.as_str())).collect();
        union(&lists)
    }

    /// Events that name one of `glns` as read point, business location, source or destination.
    pub fn naming_glns(&self, glns: &[String]) -> Vec<i64> {
        let lists: Vec<&Postings> = glns.iter().filter_map(|g| self.gln.get(g.as_str())).collect();
        union(&lists)
    }
}

/// The value under `k`, inserted empty if absent; a key is allocated only then (most events
/// name a place already seen).
fn slot<'a, V: Default>(map: &'a mut HashMap<Box<str>, V>, k: &str) -> &'a mut V {
    if !map.contains_key(k) {
        map.insert(k.into(), V::default());
    }
    map.get_mut(k).expect("inserted above")
}

fn entry<'a>(map: &'a mut BTreeMap<Box<str>, Postings>, v: &str) -> &'a mut Postings {
    // `get_mut` first: most events name a place already seen, and then no key is allocated.
    if !map.contains_key(v) {
        map.insert(v.into(), Vec::new());
    }
    map.get_mut(v).expect("inserted above")
}

/// The ascending union of ascending lists.
fn union(lists: &[&Postings]) -> Vec<i64> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut all: Vec<i64> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// The keys in both ascending lists.
pub fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// An ascending key list as the JSON array `json_each` reads.
pub fn json_list(pks: &[i64]) -> String {
    let mut s = String::with_capacity(pks.len() * 8 + 2);
    s.push('[');
    for (i, pk) in pks.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        use std::fmt::Write;
        let _ = write!(s, "{pk}");
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_their_descendants_are_found_by_key_range() {
        let mut ix = PlaceIndex::default();
        let gln = Some("0614141000012");
        ix.add_event(1, Some("https://id.gs1.org/414/0614141000012"), Some("a"), gln, None);
        ix.add_event(2, Some("https://id.gs1.org/414/0614141000012/254/7"), Some("b"), None, None);
        ix.add_event(3, Some("https://id.gs1.org/414/06141410000120"), Some("a"), None, gln);
        ix.add_source_dest(4, true, "owning_party", "p1", gln);
        ix.add_source_dest(4, true, "owning_party", "p2", None);
        ix.add_source_dest(5, false, "owning_party", "p1", None);
        let v = |s: &str| vec![s.to_owned()];
        let root = "https://id.gs1.org/414/0614141000012";
        assert_eq!(ix.at(Place::ReadPoint, &v(root), false), vec![1]);
        // `…/254/7` lies beneath; `…0120` is another GLN that merely starts the same.
        assert_eq!(ix.at(Place::ReadPoint, &v(root), true), vec![1, 2]);
        assert_eq!(ix.at(Place::BizLocation, &["b".into(), "a".into()], false), vec![1, 2, 3]);
        assert_eq!(ix.source_dest(true, "owning_party", &["p1".into(), "p2".into()]), vec![4]);
        assert_eq!(ix.source_dest(false, "owning_party", &v("p1")), vec![5]);
        assert_eq!(ix.source_dest(false, "location", &v("p1")), Vec::<i64>::new());
        assert_eq!(ix.naming_glns(&v("0614141000012")), vec![1, 3, 4]);
        assert_eq!(json_list(&[1, 3, 4]), "[1,3,4]");
        assert_eq!(intersect(&[1, 3, 4, 9], &[2, 3, 9, 10]), vec![3, 9]);
        assert_eq!(intersect(&[1, 3], &[]), Vec::<i64>::new());
        assert_eq!(json_list(&[]), "[]");
    }

    /// What a writer hands over is indexed exactly as the rows read back would be, and only
    /// where it continues the index.
    #[test]
    fn fresh_rows_continue_the_index_or_are_left_to_refresh() {
        let sd = |pk, id: &str| (pk, true, "owning_party".to_owned(), id.to_owned(), Some("0614141000012".to_owned()));
        let at = |pk, rp: &str| (pk, [Some(rp.to_owned()), None, None, None]);
        let mut ix = PlaceIndex::default();
        // Two captures of one group, keys 1–2 and 3.
        let mut fresh = Fresh::default();
        fresh.keyed(0, 2);
        fresh.keyed(2, 1);
        fresh.events = vec![at(1, "a"), at(2, "b"), at(3, "a")];
        fresh.source_dest = vec![sd(2, "p1"), sd(2, "p2"), sd(3, "p1")];
        assert!(ix.absorb(&fresh));
        assert_eq!(ix.mark(), 3);
        assert_eq!(ix.at(Place::ReadPoint, &["a".into()], false), vec![1, 3]);
        assert_eq!(ix.source_dest(true, "owning_party", &["p1".into()]), vec![2, 3]);
        assert_eq!(ix.naming_glns(&["0614141000012".into()]), vec![2, 3]);
        // Not where the index stands (keys 5–6 after 4, which it lacks): left alone.
        let mut later = Fresh::default();
        later.keyed(4, 2);
        later.events = vec![at(5, "a"), at(6, "a")];
        assert!(!ix.absorb(&later));
        assert_eq!(ix.mark(), 3);
        assert_eq!(ix.at(Place::ReadPoint, &["a".into()], false), vec![1, 3]);
        // Nor a group whose captures were keyed apart.
        let mut gapped = Fresh::default();
        gapped.keyed(3, 1);
        gapped.keyed(5, 1);
        gapped.events = vec![at(4, "a"), at(6, "a")];
        assert!(!ix.absorb(&gapped));
        assert_eq!(ix.mark(), 3);
    }
}
