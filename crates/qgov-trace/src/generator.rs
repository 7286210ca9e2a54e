//! A deterministic generator of realistic multi-tier food chains as EPCIS events, for tests
//! and benchmarks.
//!
//! Day by day: farms harvest lots (ObjectEvent ADD `commissioning` with a class quantity) and
//! ship parts of them to processors (`shipping` / `receiving` with owning-party source and
//! destination and a purchase order). Each processor runs one transformation a day, taking two
//! or three received farm lots into one product lot (EPCIS 2.0 §7.4.6; a third of them split
//! into an input event and a later output event sharing a `transformationID`, and some with a
//! top-up input recorded after the output, which must feed nothing). The product lot's cases
//! are commissioned (SGTIN, ILMD `cbvmda:lotNumber`), packed onto SSCC pallets (AggregationEvent
//! ADD `packing`), shipped to a distributor, unpacked there (DELETE `unpacking`) and repacked
//! onto two pallets for two retailers, received, unpacked, stocked and mostly sold case by case
//! (`retail_selling`, `retail_sold`).
//!
//! A tenth of the farms, processors, distributors and retailers form a decoy network that never
//! trades with the rest, using the same product GTINs with other lot numbers: traces from the
//! main chain must never reach it. Everything follows from the seed (SplitMix64).

use std::collections::VecDeque;

use qgov_epcis::Epc;
use qgov_epcis::model::{
    Action, BizTransaction, Event, EventType, ExtField, ExtValue, LeafKind, Location, QuantityElement, SourceDest,
    TimeZoneOffset, Timestamp,
};

use crate::query::rfc3339;

/// Shape of the generated chain.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// Seed of the pseudo-random stream.
    pub seed: u64,
    /// Number of events to produce, at least: the last day is completed, so that every
    /// identifier in the [`Catalog`] has all its events.
    pub events: usize,
    /// Farms (a tenth of every tier is the decoy network).
    pub farms: u32,
    /// Processors.
    pub processors: u32,
    /// Distributors.
    pub distributors: u32,
    /// Retailers.
    pub retailers: u32,
    /// Pallets per product lot.
    pub pallets_per_lot: u32,
    /// Cases per pallet (even).
    pub cases_per_pallet: u32,
    /// How many transformations use one received farm-lot part.
    pub uses_per_part: u32,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            seed: 42,
            events: 100_000,
            farms: 200,
            processors: 20,
            distributors: 30,
            retailers: 300,
            pallets_per_lot: 16,
            cases_per_pallet: 24,
            uses_per_part: 8,
        }
    }
}

/// Identifiers the generator made, for choosing query roots. Cases and pallets are sampled.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Farm lots of the main network.
    pub farm_lots: Vec<String>,
    /// Product lots of the main network.
    pub product_lots: Vec<String>,
    /// Every 100th case of the main network.
    pub cases: Vec<String>,
    /// Every 10th pallet of the main network.
    pub pallets: Vec<String>,
    /// Farm lots of the decoy network.
    pub decoy_farm_lots: Vec<String>,
    /// Product lots of the decoy network.
    pub decoy_product_lots: Vec<String>,
    /// Every 100th case of the decoy network.
    pub decoy_cases: Vec<String>,
}

/// SplitMix64: tiny, fast, and the same stream on every platform.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
}

/// GS1 mod-10 check digit (GS1 General Specifications §7.9).
fn check_digit(digits: &str) -> u32 {
    let sum: u32 =
        digits.bytes().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10
}

fn epc(s: &str) -> Epc {
    Epc::parse(s).unwrap_or_else(|e| panic!("generator made a bad identifier {s}: {e}"))
}

const GCP: u32 = 6_901_234; // a 7-digit company prefix in the GS1 China range (690–699)

fn gtin(item: u32) -> String {
    let body = format!("0{GCP:07}{item:05}");
    format!("{body}{}", check_digit(&body))
}

fn gln(n: u32) -> String {
    let body = format!("{GCP:07}{n:05}");
    format!("{body}{}", check_digit(&body))
}

/// A trading partner: its location (SGLN) and party (PGLN).
#[derive(Clone, Debug)]
struct Site {
    place: Epc,
    party: Epc,
}

#[derive(Clone, Debug)]
struct Part {
    lot: Epc,
    uses_left: u32,
}

/// Streams a chain's events in a deterministic order; [`ChainGenerator::catalog`] lists the
/// identifiers made so far.
#[derive(Debug)]
pub struct ChainGenerator {
    cfg: ChainConfig,
    rng: Rng,
    queue: VecDeque<Event>,
    emitted: usize,
    day: u32,
    farms: Vec<Site>,
    processors: Vec<Site>,
    distributors: Vec<Site>,
    retailers: Vec<Site>,
    inventory: Vec<VecDeque<Part>>,
    produce: Vec<String>,
    products: Vec<String>,
    serial: u64,
    sscc: u64,
    catalog: Catalog,
    tz: TimeZoneOffset,
}

/// Base time: 2024-01-01T00:00:00+08:00 in ns since the epoch.
const BASE: i64 = 1_704_038_400 * 1_000_000_000;
const HOUR: i64 = 3_600 * 1_000_000_000;
const MINUTE: i64 = 60 * 1_000_000_000;

impl ChainGenerator {
    /// A generator for `cfg`.
    pub fn new(cfg: ChainConfig) -> Self {
        let mut n = 0;
        let mut sites = |count: u32| -> Vec<Site> {
            (0..count)
                .map(|_| {
                    n += 1;
                    let g = gln(n);
                    Site {
                        place: epc(&format!("https://id.gs1.org/414/{g}")),
                        party: epc(&format!("https://id.gs1.org/417/{g}")),
                    }
                })
                .collect()
        };
        let (farms, processors, distributors, retailers) = (
            sites(cfg.farms.max(10)),
            sites(cfg.processors.max(10)),
            sites(cfg.distributors.max(10)),
            sites(cfg.retailers.max(10)),
        );
        let inventory = vec![VecDeque::new(); processors.len()];
        ChainGenerator {
            rng: Rng(cfg.seed),
            queue: VecDeque::new(),
            emitted: 0,
            day: 0,
            farms,
            processors,
            distributors,
            retailers,
            inventory,
            produce: (0..8).map(|i| gtin(10 + i)).collect(),
            products: (0..8).map(|i| gtin(100 + i)).collect(),
            serial: 0,
            sscc: 0,
            catalog: Catalog::default(),
            tz: TimeZoneOffset::parse("+08:00").expect("valid offset"),
            cfg,
        }
    }

    /// The identifiers made so far.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The GLN (13 digits) of every site of the chain: farms, processors, distributors and
    /// retailers, each both a location (SGLN) and a party (PGLN) in the events.
    pub fn site_glns(&self) -> Vec<String> {
        let sites = self.farms.iter().chain(&self.processors).chain(&self.distributors).chain(&self.retailers);
        sites.map(|s| s.place.as_str()["https://id.gs1.org/414/".len()..].to_owned()).collect()
    }

    /// The GTIN (14 digits) of every trade item the chain makes: farm produce and products.
    pub fn gtins(&self) -> Vec<String> {
        self.produce.iter().chain(&self.products).cloned().collect()
    }

    /// Members of a tier in the network (`decoy` picks the last tenth).
    fn pick(&mut self, len: usize, decoy: bool) -> usize {
        let split = len - len / 10;
        if decoy {
            split + self.rng.below((len - split) as u32) as usize
        } else {
            self.rng.below(split as u32) as usize
        }
    }

    fn is_decoy(len: usize, i: usize) -> bool {
        i >= len - len / 10
    }

    fn event(&mut self, ty: EventType, t: i64, biz_step: &str, site: &Site) -> Event {
        let ts = Timestamp::parse(&rfc3339(t)).expect("generated time parses");
        let mut ev = Event::new(ty, ts, self.tz.clone());
        let (a, b) = (self.rng.next(), self.rng.next());
        let h = format!("{a:016x}{b:016x}");
        ev.event_id =
            Some(format!("urn:uuid:{}-{}-4{}-8{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]));
        ev.biz_step = Some(biz_step.to_string());
        ev.read_point = Some(Location { id: site.place.clone(), extensions: Vec::new() });
        ev.biz_location = Some(Location { id: site.place.clone(), extensions: Vec::new() });
        ev
    }

    fn trade(ev: &mut Event, from: &Site, to: &Site, po: &Epc) {
        ev.source_list.push(SourceDest { kind: "owning_party".into(), id: from.party.clone() });
        ev.destination_list.push(SourceDest { kind: "owning_party".into(), id: to.party.clone() });
        ev.biz_transaction_list.push(BizTransaction { kind: Some("po".into()), id: po.clone() });
    }

    fn po(&mut self) -> Epc {
        let n = self.rng.next() % 1_000_000_000;
        epc(&format!("urn:qgov:po:{n}"))
    }

    fn qty(lot: &Epc, q: f64) -> QuantityElement {
        QuantityElement { epc_class: lot.clone(), quantity: Some(q), uom: Some("KGM".into()) }
    }

    fn step_day(&mut self) {
        let day0 = BASE + i64::from(self.day) * 24 * HOUR;
        let farm_count = self.farms.len();
        // Farms: as many lots a day as the processors use up (each lot ships in three parts,
        // each part feeds `uses_per_part` transformations of two or three inputs), so every lot
        // is consumed and its downstream is a realistic size.
        let uses = self.processors.len() as u32 * 5 / 2;
        let per_lot = 3 * self.cfg.uses_per_part.max(1);
        let lots_today = uses / per_lot + u32::from(self.rng.below(per_lot) < uses % per_lot);
        for k in 0..lots_today {
            let f = self.rng.below(farm_count as u32) as usize;
            let decoy = Self::is_decoy(farm_count, f);
            let farm = self.farms[f].clone();
            let produce = self.produce[self.rng.below(self.produce.len() as u32) as usize].clone();
            let lot = epc(&format!(
                "https://id.gs1.org/01/{produce}/10/{}F{f}D{}H{k}",
                if decoy { "X" } else { "" },
                self.day
            ));
            if decoy { &mut self.catalog.decoy_farm_lots } else { &mut self.catalog.farm_lots }.push(lot.to_string());
            let t = day0 + 6 * HOUR + i64::from(k) * 10 * MINUTE;
            let mut ev = self.event(EventType::Object, t, "commissioning", &farm);
            ev.action = Some(Action::Add);
            ev.disposition = Some("active".into());
            ev.quantity_list.push(Self::qty(&lot, 6000.0));
            self.queue.push_back(ev);
            for part in 0..3 {
                let p = self.pick(self.processors.len(), decoy);
                let proc = self.processors[p].clone();
                let po = self.po();
                let mut ship = self.event(EventType::Object, t + 4 * HOUR + part * MINUTE, "shipping", &farm);
                ship.action = Some(Action::Observe);
                ship.disposition = Some("in_transit".into());
                ship.quantity_list.push(Self::qty(&lot, 2000.0));
                Self::trade(&mut ship, &farm, &proc, &po);
                let mut recv = self.event(EventType::Object, t + 8 * HOUR + part * MINUTE, "receiving", &proc);
                recv.action = Some(Action::Observe);
                recv.disposition = Some("in_progress".into());
                recv.quantity_list.push(Self::qty(&lot, 2000.0));
                Self::trade(&mut recv, &farm, &proc, &po);
                self.queue.push_back(ship);
                self.queue.push_back(recv);
                self.inventory[p].push_back(Part { lot: lot.clone(), uses_left: self.cfg.uses_per_part.max(1) });
            }
        }
        // Processors: one transformation a day from parts received on earlier days.
        for p in 0..self.processors.len() {
            if self.inventory[p].len() < 2 {
                continue;
            }
            self.transform(p, day0 + 24 * HOUR);
        }
        self.day += 1;
    }

    fn take_part(&mut self, p: usize) -> Option<Epc> {
        let inv = &mut self.inventory[p];
        let mut part = inv.pop_front()?;
        part.uses_left -= 1;
        let lot = part.lot.clone();
        if part.uses_left > 0 {
            inv.push_back(part);
        }
        Some(lot)
    }

    fn transform(&mut self, p: usize, t: i64) {
        let decoy = Self::is_decoy(self.processors.len(), p);
        let proc = self.processors[p].clone();
        let n_inputs = 2 + self.rng.below(2);
        let mut inputs: Vec<Epc> = Vec::new();
        for _ in 0..n_inputs {
            if let Some(l) = self.take_part(p)
                && !inputs.contains(&l)
            {
                inputs.push(l);
            }
        }
        let product = self.products[self.rng.below(self.products.len() as u32) as usize].clone();
        let lot_no = format!("{}P{p}D{}", if decoy { "X" } else { "" }, self.day);
        let lot = epc(&format!("https://id.gs1.org/01/{product}/10/{lot_no}"));
        if decoy { &mut self.catalog.decoy_product_lots } else { &mut self.catalog.product_lots }.push(lot.to_string());
        let ins: Vec<QuantityElement> = inputs.iter().map(|l| Self::qty(l, 250.0)).collect();
        let out = Self::qty(&lot, 600.0);
        if self.rng.chance(33) {
            let xid = epc(&format!("urn:qgov:xform:{p}:{}", self.day));
            let mut a = self.event(EventType::Transformation, t + 8 * HOUR, "commissioning", &proc);
            a.transformation_id = Some(xid.clone());
            a.input_quantity_list = ins;
            let mut b = self.event(EventType::Transformation, t + 10 * HOUR, "commissioning", &proc);
            b.transformation_id = Some(xid.clone());
            b.output_quantity_list.push(out);
            self.queue.push_back(a);
            self.queue.push_back(b);
            if self.rng.chance(30) {
                // A top-up recorded after the output was made: it feeds nothing already made.
                if let Some(late) = self.take_part(p) {
                    let mut c = self.event(EventType::Transformation, t + 12 * HOUR, "commissioning", &proc);
                    c.transformation_id = Some(xid);
                    c.input_quantity_list.push(Self::qty(&late, 50.0));
                    self.queue.push_back(c);
                }
            }
        } else {
            let mut ev = self.event(EventType::Transformation, t + 9 * HOUR, "commissioning", &proc);
            ev.input_quantity_list = ins;
            ev.output_quantity_list.push(out);
            self.queue.push_back(ev);
        }
        for pallet_no in 0..self.cfg.pallets_per_lot {
            self.pallet_journey(&proc, &product, &lot_no, decoy, t + 11 * HOUR + i64::from(pallet_no) * MINUTE);
        }
    }

    fn new_case(&mut self, product: &str, decoy: bool) -> Epc {
        self.serial += 1;
        let case = epc(&format!("https://id.gs1.org/01/{product}/21/{}", self.serial));
        if self.serial.is_multiple_of(100) {
            if decoy { &mut self.catalog.decoy_cases } else { &mut self.catalog.cases }.push(case.to_string());
        }
        case
    }

    fn new_pallet(&mut self, decoy: bool) -> Epc {
        self.sscc += 1;
        let body = format!("0{GCP:07}{:09}", self.sscc);
        let pallet = epc(&format!("https://id.gs1.org/00/{body}{}", check_digit(&body)));
        if !decoy && self.sscc.is_multiple_of(10) {
            self.catalog.pallets.push(pallet.to_string());
        }
        pallet
    }

    fn aggregate(&mut self, action: Action, t: i64, step: &str, site: &Site, parent: &Epc, children: &[Epc]) -> Event {
        let mut ev = self.event(EventType::Aggregation, t, step, site);
        ev.action = Some(action);
        ev.parent_id = Some(parent.clone());
        ev.child_epcs = children.to_vec();
        ev
    }

    fn move_pallet(&mut self, t: i64, pallet: &Epc, from: &Site, to: &Site) {
        let po = self.po();
        let mut ship = self.event(EventType::Object, t, "shipping", from);
        ship.action = Some(Action::Observe);
        ship.disposition = Some("in_transit".into());
        ship.epc_list.push(pallet.clone());
        Self::trade(&mut ship, from, to, &po);
        let mut recv = self.event(EventType::Object, t + 6 * HOUR, "receiving", to);
        recv.action = Some(Action::Observe);
        recv.disposition = Some("in_progress".into());
        recv.epc_list.push(pallet.clone());
        Self::trade(&mut recv, from, to, &po);
        self.queue.push_back(ship);
        self.queue.push_back(recv);
    }

    fn pallet_journey(&mut self, proc: &Site, product: &str, lot_no: &str, decoy: bool, t: i64) {
        let n = self.cfg.cases_per_pallet.max(2) & !1;
        let cases: Vec<Epc> = (0..n).map(|_| self.new_case(product, decoy)).collect();
        let mut commission = self.event(EventType::Object, t, "commissioning", proc);
        commission.action = Some(Action::Add);
        commission.disposition = Some("active".into());
        commission.epc_list = cases.clone();
        commission.ilmd = Some(vec![ExtField {
            ns: "urn:epcglobal:cbv:mda:".into(),
            name: "lotNumber".into(),
            value: ExtValue::Leaf(lot_no.to_string(), LeafKind::String),
        }]);
        self.queue.push_back(commission);
        let pallet = self.new_pallet(decoy);
        let pack = self.aggregate(Action::Add, t + HOUR, "packing", proc, &pallet, &cases);
        self.queue.push_back(pack);
        let d = self.pick(self.distributors.len(), decoy);
        let dist = self.distributors[d].clone();
        self.move_pallet(t + 13 * HOUR, &pallet, proc, &dist);
        let unpack = self.aggregate(Action::Delete, t + 24 * HOUR, "unpacking", &dist, &pallet, &[]);
        self.queue.push_back(unpack);
        for half in cases.chunks(cases.len() / 2) {
            let rp = self.new_pallet(decoy);
            let pack = self.aggregate(Action::Add, t + 25 * HOUR, "packing", &dist, &rp, half);
            self.queue.push_back(pack);
            let r = self.pick(self.retailers.len(), decoy);
            let shop = self.retailers[r].clone();
            self.move_pallet(t + 28 * HOUR, &rp, &dist, &shop);
            let unpack = self.aggregate(Action::Delete, t + 36 * HOUR, "unpacking", &shop, &rp, &[]);
            self.queue.push_back(unpack);
            let mut stock = self.event(EventType::Object, t + 37 * HOUR, "stocking", &shop);
            stock.action = Some(Action::Observe);
            stock.disposition = Some("sellable_accessible".into());
            stock.epc_list = half.to_vec();
            self.queue.push_back(stock);
            for (i, case) in half.iter().enumerate() {
                if self.rng.chance(70) {
                    let mut sold =
                        self.event(EventType::Object, t + 48 * HOUR + i as i64 * 20 * MINUTE, "retail_selling", &shop);
                    sold.action = Some(Action::Observe);
                    sold.disposition = Some("retail_sold".into());
                    sold.epc_list.push(case.clone());
                    self.queue.push_back(sold);
                }
            }
        }
    }
}

impl Iterator for ChainGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        while self.queue.is_empty() {
            if self.emitted >= self.cfg.events {
                return None;
            }
            self.step_day();
        }
        self.emitted += 1;
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let cfg = ChainConfig { events: 3_000, ..ChainConfig::default() };
        let a: Vec<Event> = ChainGenerator::new(cfg.clone()).collect();
        let b: Vec<Event> = ChainGenerator::new(cfg.clone()).collect();
        let c: Vec<Event> = ChainGenerator::new(ChainConfig { seed: 7, ..cfg }).collect();
        assert!(a.len() >= 3_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn identifiers_are_canonical_gs1_keys() {
        let evs: Vec<Event> = ChainGenerator::new(ChainConfig { events: 20_000, ..ChainConfig::default() }).collect();
        let agg = evs.iter().find(|e| e.event_type == EventType::Aggregation).expect("some packing");
        let pallet = agg.parent_id.as_ref().unwrap();
        assert!(pallet.as_str().starts_with("https://id.gs1.org/00/06901234"));
        assert!(pallet.to_epc_urn(None).unwrap().starts_with("urn:epc:id:sscc:6901234."));
        let case = &agg.child_epcs[0];
        assert!(case.to_epc_urn(None).unwrap().starts_with("urn:epc:id:sgtin:6901234.0"));
        assert!(evs.iter().any(|e| e.event_type == EventType::Transformation && e.transformation_id.is_some()));
    }
}
