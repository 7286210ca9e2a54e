//! Hand-built chains with known answers, and the forward/backward consistency property.

use proptest::prelude::*;
use qgov_epcis::Epc;
use qgov_epcis::model::{
    Action, Event, EventType, ExtField, ExtValue, LeafKind, Location, QuantityElement, SourceDest, TimeZoneOffset,
    Timestamp,
};
use qgov_trace::generator::{ChainConfig, ChainGenerator};
use qgov_trace::{Direction, EventView, NodeKind, QueryError, Relation, Trace, TraceIndex};

fn dl(s: &str) -> String {
    Epc::parse(s).unwrap().as_str().to_string()
}

/// Hours after 2024-05-01T00:00Z.
fn at(hour: u32) -> Timestamp {
    Timestamp::parse(&format!("2024-05-{:02}T{:02}:00:00Z", 1 + hour / 24, hour % 24)).unwrap()
}

fn base(ty: EventType, hour: u32, id: &str, step: &str, place: &str) -> Event {
    let mut e = Event::new(ty, at(hour), TimeZoneOffset::parse("+08:00").unwrap());
    e.event_id = Some(format!("urn:test:{id}"));
    e.biz_step = Some(step.into());
    e.biz_location = Some(Location { id: Epc::parse(place).unwrap(), extensions: vec![] });
    e
}

fn epcs(ids: &[&str]) -> Vec<Epc> {
    ids.iter().map(|s| Epc::parse(s).unwrap()).collect()
}

fn qty(lot: &str, q: f64) -> QuantityElement {
    QuantityElement { epc_class: Epc::parse(lot).unwrap(), quantity: Some(q), uom: Some("KGM".into()) }
}

fn observe(hour: u32, id: &str, step: &str, place: &str, objects: &[&str]) -> Event {
    let mut e = base(EventType::Object, hour, id, step, place);
    e.action = Some(Action::Observe);
    e.epc_list = epcs(objects);
    e
}

fn ship(hour: u32, id: &str, place: &str, objects: &[&str], from: &str, to: &str) -> Event {
    let mut e = observe(hour, id, "shipping", place, objects);
    e.disposition = Some("in_transit".into());
    e.source_list.push(SourceDest { kind: "owning_party".into(), id: Epc::parse(from).unwrap() });
    e.destination_list.push(SourceDest { kind: "owning_party".into(), id: Epc::parse(to).unwrap() });
    e
}

fn commission(hour: u32, id: &str, place: &str, objects: &[&str], lot_number: Option<&str>) -> Event {
    let mut e = base(EventType::Object, hour, id, "commissioning", place);
    e.action = Some(Action::Add);
    e.epc_list = epcs(objects);
    e.ilmd = lot_number.map(|l| {
        vec![ExtField {
            ns: "urn:epcglobal:cbv:mda:".into(),
            name: "lotNumber".into(),
            value: ExtValue::Leaf(l.into(), LeafKind::String),
        }]
    });
    e
}

fn aggregate(hour: u32, id: &str, action: Action, place: &str, parent: &str, children: &[&str]) -> Event {
    let step = if action == Action::Delete { "unpacking" } else { "packing" };
    let mut e = base(EventType::Aggregation, hour, id, step, place);
    e.action = Some(action);
    e.parent_id = Some(Epc::parse(parent).unwrap());
    e.child_epcs = epcs(children);
    e
}

fn transform(hour: u32, id: &str, place: &str, inputs: &[&str], outputs: &[&str], xid: Option<&str>) -> Event {
    let mut e = base(EventType::Transformation, hour, id, "commissioning", place);
    e.input_quantity_list = inputs.iter().map(|l| qty(l, 100.0)).collect();
    e.output_quantity_list = outputs.iter().map(|l| qty(l, 80.0)).collect();
    e.transformation_id = xid.map(|x| Epc::parse(x).unwrap());
    e
}

// Places and parties.
const FARM: &str = "urn:epc:id:sgln:0614141.00001.0";
const PLANT: &str = "urn:epc:id:sgln:0614141.00002.0";
const DC: &str = "urn:epc:id:sgln:0614141.00003.0";
const SHOP: &str = "urn:epc:id:sgln:0614141.00004.0";
const DECOY_PLANT: &str = "urn:epc:id:sgln:0614141.00009.0";
const P_PLANT: &str = "urn:epc:id:pgln:0614141.00002";
const P_DC: &str = "urn:epc:id:pgln:0614141.00003";
const P_SHOP: &str = "urn:epc:id:pgln:0614141.00004";
const P_OTHER: &str = "urn:epc:id:pgln:0614141.00005";

// Lots (class level) and instances.
const LETTUCE_A: &str = "urn:epc:class:lgtin:0614141.012345.FA1";
const LETTUCE_B: &str = "urn:epc:class:lgtin:0614141.012345.FB1";
const LETTUCE_D: &str = "urn:epc:class:lgtin:0614141.012345.FD9";
const SALAD: &str = "urn:epc:class:lgtin:0614141.054321.S1";
const SALAD_DECOY: &str = "urn:epc:class:lgtin:0614141.054321.S9";
const CASE1: &str = "urn:epc:id:sgtin:0614141.054321.1";
const CASE2: &str = "urn:epc:id:sgtin:0614141.054321.2";
const CASE3: &str = "urn:epc:id:sgtin:0614141.054321.3";
const CASE5: &str = "urn:epc:id:sgtin:0614141.054321.5";
const CASE9: &str = "urn:epc:id:sgtin:0614141.054321.9";
const PALLET: &str = "urn:epc:id:sscc:0614141.1000000001";
const TRAILER: &str = "urn:epc:id:sscc:0614141.1000000002";

/// Farm lots A and B make salad lot S1 at the plant; cases 1 and 2 of S1 go on a pallet to the
/// DC, are unpacked there; the pallet is reused for case 3 (a decoy product lot S9 made from
/// lot D) and shipped to the shop, after which case 5 is put on it.
fn chain() -> Vec<Event> {
    vec![
        transform(1, "t1", PLANT, &[LETTUCE_A, LETTUCE_B], &[SALAD], None),
        transform(2, "t-decoy", DECOY_PLANT, &[LETTUCE_D], &[SALAD_DECOY], None),
        commission(3, "c12", PLANT, &[CASE1, CASE2], Some("S1")),
        commission(3, "c3", DECOY_PLANT, &[CASE3], Some("S9")),
        commission(3, "c5", DECOY_PLANT, &[CASE5], None),
        aggregate(4, "pack1", Action::Add, PLANT, PALLET, &[CASE1, CASE2]),
        ship(5, "ship1", PLANT, &[PALLET], P_PLANT, P_DC),
        observe(9, "recv1", "receiving", DC, &[PALLET]),
        aggregate(10, "unpack1", Action::Delete, DC, PALLET, &[]),
        aggregate(11, "pack2", Action::Add, DC, PALLET, &[CASE3]),
        ship(12, "ship2", DC, &[PALLET], P_DC, P_SHOP),
        aggregate(13, "late", Action::Add, DC, PALLET, &[CASE5]),
        observe(20, "shelf1", "stocking", SHOP, &[CASE1]),
    ]
}

fn index(events: &[Event]) -> TraceIndex {
    TraceIndex::from_events(events).unwrap()
}

fn node_ids(t: &Trace) -> Vec<String> {
    t.nodes.iter().map(|n| n.id.to_string()).collect()
}

fn has(t: &Trace, id: &str) -> bool {
    let id = dl(id);
    t.nodes.iter().any(|n| *n.id == *id)
}

fn has_place(t: &Trace, id: &str) -> bool {
    let id = dl(id);
    t.locations.iter().any(|l| l.id == id)
}

#[test]
fn forward_from_a_farm_lot_reaches_its_product_lot_cases_pallet_and_places_but_not_the_decoy() {
    let ix = index(&chain());
    let t = ix.forward(LETTUCE_A).unwrap();
    assert_eq!(t.root, dl(LETTUCE_A));
    assert_eq!(t.direction, Direction::Forward);
    assert_eq!(
        node_ids(&t),
        {
            let mut v = vec![dl(LETTUCE_A), dl(SALAD), dl(CASE1), dl(CASE2), dl(PALLET)];
            v.sort();
            v
        },
        "{t:#?}"
    );
    assert!(!has(&t, LETTUCE_B), "a co-ingredient is not downstream");
    assert!(!has(&t, SALAD_DECOY) && !has(&t, CASE3) && !has(&t, CASE5));
    assert!(has_place(&t, DC) && has_place(&t, SHOP) && has_place(&t, P_DC));
    assert!(!has_place(&t, P_SHOP), "the pallet went to the shop after case 1 and 2 were unpacked");
    let salad = t.nodes.iter().find(|n| *n.id == *dl(SALAD)).unwrap();
    assert_eq!(salad.kind, NodeKind::Class);
    let pallet = t.nodes.iter().find(|n| *n.id == *dl(PALLET)).unwrap();
    assert_eq!(pallet.kind, NodeKind::Container);
    let case1 = t.nodes.iter().find(|n| *n.id == *dl(CASE1)).unwrap();
    assert_eq!(case1.kind, NodeKind::Instance);
    assert_eq!(case1.lot.as_deref(), Some(dl(SALAD).as_str()));
    let edge = t.edges.iter().find(|e| t.from_id(e) == dl(LETTUCE_A) && t.to_id(e) == dl(SALAD)).unwrap();
    assert_eq!(edge.relation, Relation::Transformation);
    let ev = t.event(edge);
    assert_eq!(ev.event_id.as_deref(), Some("urn:test:t1"));
    assert_eq!(ev.event_type, "TransformationEvent");
    assert_eq!(&*ev.event_time, "2024-05-01T01:00:00.000Z");
    assert!(
        t.edges
            .iter()
            .any(|e| t.from_id(e) == dl(SALAD) && t.to_id(e) == dl(CASE1) && e.relation == Relation::LotMember)
    );
    assert!(
        t.edges
            .iter()
            .any(|e| t.from_id(e) == dl(CASE1) && t.to_id(e) == dl(PALLET) && e.relation == Relation::PackedInto)
    );
    // Hops from the root: lettuce A → salad lot → case 1 → pallet.
    let depth = |id: &str| t.nodes.iter().find(|n| *n.id == *dl(id)).unwrap().depth;
    assert_eq!([depth(LETTUCE_A), depth(SALAD), depth(CASE1), depth(PALLET)], [0, 1, 2, 3]);
    // Nodes sorted by id, edges by (from, to, time), each event listed once.
    assert!(t.nodes.windows(2).all(|w| w[0].id < w[1].id), "{:#?}", node_ids(&t));
    assert!(t.edges.windows(2).all(|w| (w[0].from, w[0].to) <= (w[1].from, w[1].to)));
    let events: std::collections::HashSet<_> = t.events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(events.len(), t.events.len());
    assert!(t.edges.iter().all(|e| (e.event as usize) < t.events.len()));
}

#[test]
fn backward_from_a_case_reaches_its_lot_and_both_farm_lots_only() {
    let ix = index(&chain());
    let t = ix.backward(&dl(CASE1)).unwrap();
    assert_eq!(t.root, dl(CASE1));
    for id in [LETTUCE_A, LETTUCE_B, SALAD, PALLET] {
        assert!(has(&t, id), "{id} missing from {:#?}", node_ids(&t));
    }
    assert!(!has(&t, LETTUCE_D) && !has(&t, SALAD_DECOY) && !has(&t, CASE2), "{:#?}", node_ids(&t));
    assert!(has_place(&t, FARM) || has_place(&t, PLANT));
    assert!(has_place(&t, DC), "the pallet's receipt at the DC is part of case 1's history");
    assert!(!has_place(&t, P_SHOP), "the pallet's later trip is not");
    assert!(
        t.edges
            .iter()
            .any(|e| t.from_id(e) == dl(PALLET) && t.to_id(e) == dl(CASE1) && e.relation == Relation::Contains)
    );
}

#[test]
fn an_item_packed_after_the_pallet_shipped_did_not_travel_with_it() {
    let ix = index(&chain());
    let case3 = ix.forward(CASE3).unwrap();
    assert!(has(&case3, PALLET));
    assert!(has_place(&case3, P_SHOP), "case 3 was on the pallet when it shipped to the shop");
    let case5 = ix.forward(CASE5).unwrap();
    assert!(has(&case5, PALLET), "case 5 did go onto the pallet");
    assert!(!has_place(&case5, P_SHOP), "but after it had shipped: {:#?}", case5.locations);
    assert!(!has_place(&case5, P_DC), "nor the pallet's earlier trip");
}

#[test]
fn a_container_asked_about_stands_for_its_contents() {
    let ix = index(&chain());
    let t = ix.forward(PALLET).unwrap();
    for id in [CASE1, CASE2, CASE3, CASE5] {
        assert!(has(&t, id), "{id}");
    }
    let b = ix.backward(PALLET).unwrap();
    assert!(has(&b, LETTUCE_A) && has(&b, LETTUCE_D), "every content's origin: {:#?}", node_ids(&b));
}

#[test]
fn transformation_id_links_events_in_time_order_only() {
    const X: &str = "urn:qgov:xform:7";
    const LATE: &str = "urn:epc:class:lgtin:0614141.012345.LATE";
    let events = vec![
        transform(1, "in", PLANT, &[LETTUCE_A], &[], Some(X)),
        transform(3, "out", PLANT, &[], &[SALAD], Some(X)),
        transform(5, "top-up", PLANT, &[LATE], &[], Some(X)),
        transform(6, "out2", PLANT, &[], &[SALAD_DECOY], Some(X)),
    ];
    let ix = index(&events);
    let a = ix.forward(LETTUCE_A).unwrap();
    assert!(has(&a, X) && has(&a, SALAD) && has(&a, SALAD_DECOY));
    assert_eq!(a.nodes.iter().find(|n| *n.id == *X).unwrap().kind, NodeKind::Transformation);
    let late = ix.forward(LATE).unwrap();
    assert!(has(&late, SALAD_DECOY), "made after the top-up");
    assert!(!has(&late, SALAD), "an input consumed after an output was made does not feed it");
    let s = ix.backward(SALAD).unwrap();
    assert!(has(&s, LETTUCE_A) && !has(&s, LATE));
    let s2 = ix.backward(SALAD_DECOY).unwrap();
    assert!(has(&s2, LETTUCE_A) && has(&s2, LATE));
}

#[test]
fn nested_containers_and_transaction_parents_carry_their_contents() {
    const CASE7: &str = "urn:epc:id:sgtin:0614141.054321.7";
    let mut tx = base(EventType::Transaction, 30, "tx", "shipping", PLANT);
    tx.action = Some(Action::Add);
    tx.parent_id = Some(Epc::parse(PALLET).unwrap());
    tx.epc_list = epcs(&[CASE7]);
    let events = vec![
        aggregate(1, "p", Action::Add, PLANT, PALLET, &[CASE1]),
        aggregate(2, "t", Action::Add, PLANT, TRAILER, &[PALLET]),
        ship(3, "s", PLANT, &[TRAILER], P_PLANT, P_DC),
        aggregate(4, "u", Action::Delete, DC, TRAILER, &[PALLET]),
        ship(5, "s2", DC, &[TRAILER], P_DC, P_OTHER),
        tx,
        ship(31, "s3", PLANT, &[PALLET], P_PLANT, P_SHOP),
    ];
    let ix = index(&events);
    let t = ix.forward(CASE1).unwrap();
    assert!(has(&t, TRAILER) && has_place(&t, P_DC), "{t:#?}");
    assert!(!has_place(&t, P_OTHER), "the trailer's next trip came after the pallet left it");
    assert!(has_place(&t, P_SHOP), "case 1 was never unpacked from the pallet");
    let c7 = ix.forward(CASE7).unwrap();
    assert!(has(&c7, PALLET) && has_place(&c7, P_SHOP) && !has_place(&c7, P_DC));
}

#[test]
fn recall_scope_lists_items_with_last_place_owner_disposition_quantity_and_parties() {
    let ix = index(&chain());
    let scope = ix.recall_scope(SALAD).unwrap();
    let ids: Vec<&str> = scope.items.iter().map(|i| i.id.as_str()).collect();
    let mut want = vec![dl(SALAD), dl(CASE1), dl(CASE2)];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(scope.containers, vec![dl(PALLET)]);
    let c1 = scope.items.iter().find(|i| i.id == dl(CASE1)).unwrap();
    assert_eq!(c1.last_location.as_deref(), Some(dl(SHOP).as_str()));
    assert_eq!(c1.owner.as_deref(), Some(dl(P_DC).as_str()));
    assert_eq!(c1.disposition.as_deref(), Some("in_transit"));
    assert_eq!(c1.quantity, Some(1.0));
    assert_eq!(c1.last_seen.as_deref(), Some("2024-05-01T20:00:00.000Z"));
    let c2 = scope.items.iter().find(|i| i.id == dl(CASE2)).unwrap();
    assert_eq!(c2.last_location.as_deref(), Some(dl(DC).as_str()), "last seen in the pallet's receipt");
    let lot = scope.items.iter().find(|i| i.id == dl(SALAD)).unwrap();
    assert_eq!((lot.kind, lot.quantity, lot.uom.as_deref()), (NodeKind::Class, Some(80.0), Some("KGM")));
    let parties: Vec<(&str, usize)> = scope.parties.iter().map(|p| (p.id.as_str(), p.items_owned)).collect();
    let mut want = [(dl(P_PLANT), 0), (dl(P_DC), 2)];
    want.sort();
    assert_eq!(parties, want.iter().map(|(p, n)| (p.as_str(), *n)).collect::<Vec<_>>());
    assert!(scope.parties.iter().all(|p| p.kinds == vec!["owning_party".to_string()]));
}

#[test]
fn a_filter_hides_events_and_the_links_they_make() {
    let ix = index(&chain());
    let plant = dl(PLANT);
    let not_plant = move |ev: &EventView<'_>| !ev.places().contains(&plant);
    let t = ix.trace(LETTUCE_A, Direction::Forward, &not_plant).unwrap();
    assert_eq!(node_ids(&t), vec![dl(LETTUCE_A)], "the transformation itself is at the plant");
    assert!(t.edges.is_empty());
    let dc_only = |ev: &EventView<'_>| ev.places().contains(&dl(DC));
    let scope = ix.recall_scope_filtered(PALLET, &dc_only).unwrap();
    let ids: Vec<&str> = scope.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec![dl(CASE3), dl(CASE5)], "cases 1 and 2 were packed at the plant, out of sight");
}

#[test]
fn bad_and_unknown_identifiers_are_errors() {
    let ix = index(&chain());
    assert!(matches!(ix.forward("not an id"), Err(QueryError::BadId(_))));
    assert_eq!(
        ix.backward("urn:epc:id:sgtin:0614141.054321.404").unwrap_err(),
        QueryError::NotFound(dl(CASE1).replace("/21/1", "/21/404"))
    );
}

#[test]
fn a_class_without_a_lot_is_shown_but_not_followed() {
    const BARE: &str = "urn:epc:idpat:sgtin:0614141.054321.*";
    let events = vec![
        transform(1, "t", PLANT, &[LETTUCE_A], &[BARE], None),
        transform(2, "t2", PLANT, &[BARE], &[SALAD_DECOY], None),
    ];
    let ix = index(&events);
    let t = ix.forward(LETTUCE_A).unwrap();
    let bare = t.nodes.iter().find(|n| *n.id == *dl(BARE)).unwrap();
    assert!(bare.not_followed);
    assert!(!has(&t, SALAD_DECOY));
    assert!(has(&ix.forward(BARE).unwrap(), SALAD_DECOY), "asked about directly, it is followed");
}

#[test]
fn lot_from_the_identifier_or_from_the_class_quantity_of_the_commissioning_event() {
    let with_lot = format!("{}/21/77", dl(SALAD));
    let with_lot = with_lot.as_str();
    let mut both = commission(2, "cq", PLANT, &[CASE9], None);
    both.quantity_list.push(qty(SALAD, 1.0));
    let events = vec![observe(1, "o", "receiving", DC, &[with_lot]), both, observe(3, "x", "receiving", DC, &[CASE2])];
    let ix = index(&events);
    let fwd = ix.forward(SALAD).unwrap();
    assert!(has(&fwd, with_lot) && has(&fwd, CASE9), "{fwd:#?}");
    assert!(!has(&fwd, CASE2), "no lot known for case 2");
    assert!(has(&ix.backward(with_lot).unwrap(), SALAD));
}

#[test]
fn incremental_appends_in_any_order_answer_like_a_bulk_build() {
    let events = chain();
    let bulk = index(&events);
    let mut inc = TraceIndex::new();
    for ev in events.iter().rev() {
        inc.append(ev).unwrap();
    }
    for root in [LETTUCE_A, SALAD, CASE1, CASE3, CASE5, PALLET] {
        assert_eq!(bulk.forward(root).unwrap(), inc.forward(root).unwrap(), "{root}");
        assert_eq!(bulk.backward(root).unwrap(), inc.backward(root).unwrap(), "{root}");
        assert_eq!(bulk.recall_scope(root).unwrap(), inc.recall_scope(root).unwrap(), "{root}");
    }
}

#[test]
fn results_serialise_in_the_api_shape() {
    let ix = index(&chain());
    let json = serde_json::to_string(&ix.forward(LETTUCE_A).unwrap()).unwrap();
    for key in
        ["\"root\"", "\"direction\":\"forward\"", "\"eventId\"", "\"bizStep\"", "\"eventTime\"", "\"kind\":\"class\""]
    {
        assert!(json.contains(key), "{key} in {json}");
    }
    assert!(json.contains("\"role\":\"biz_location\""));
    let scope = serde_json::to_value(ix.recall_scope(SALAD).unwrap()).unwrap();
    assert_eq!(scope["parties"][0]["itemsOwned"], 0);
    assert!(scope["items"][0]["lastLocation"].is_string());
}

#[test]
fn generated_chain_decoys_are_never_reached() {
    let cfg = ChainConfig { events: 60_000, pallets_per_lot: 4, ..ChainConfig::default() };
    let mut g = ChainGenerator::new(cfg);
    let ix = TraceIndex::from_events(&mut g).unwrap();
    let cat = g.catalog().clone();
    assert!(cat.farm_lots.len() > 20 && !cat.decoy_farm_lots.is_empty() && !cat.cases.is_empty());
    for lot in cat.farm_lots.iter().take(15) {
        let scope = ix.recall_scope(lot).unwrap();
        assert!(scope.items.iter().all(|i| !i.id.contains("/10/X")), "decoy lot reached from {lot}");
        let decoy_cases: std::collections::HashSet<&String> = cat.decoy_cases.iter().collect();
        assert!(scope.items.iter().all(|i| !decoy_cases.contains(&i.id)));
    }
    for case in cat.cases.iter().take(15) {
        let t = ix.backward(case).unwrap();
        assert!(t.nodes.iter().any(|n| cat.farm_lots.iter().any(|f| *f == *n.id)), "a case comes from some farm lot");
        assert!(t.nodes.iter().all(|n| !n.id.contains("/10/X")), "backward from {case} reached a decoy");
    }
}

fn consistency(ix: &TraceIndex, a: &str, sample: usize) -> Result<(), TestCaseError> {
    let fwd = ix.forward(a).unwrap();
    let instance_level = |k: NodeKind| matches!(k, NodeKind::Instance | NodeKind::Class);
    for b in fwd.nodes.iter().filter(|n| instance_level(n.kind) && *n.id != *fwd.root).take(sample) {
        let back = ix.backward(&b.id).unwrap();
        prop_assert!(back.nodes.iter().any(|n| *n.id == *fwd.root), "{} in forward({}) but not backward", b.id, a);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// If B is in forward(A) then A is in backward(B), on random small chains: random
    /// aggregations (ADD / DELETE), transformations (with and without a shared ID), lot
    /// commissioning and observations over a small pool, at random times and in random order.
    #[test]
    fn forward_and_backward_agree_on_random_chains(
        raw in prop::collection::vec((0u8..6, 0u32..40, 0usize..8, 0usize..8, 0usize..3, 0usize..3), 1..40)
    ) {
        let items: Vec<String> = (1..=8).map(|n| format!("urn:epc:id:sgtin:0614141.054321.{n}")).collect();
        let lots: Vec<String> = ["L1", "L2", "L3"].iter().map(|l| format!("urn:epc:class:lgtin:0614141.054321.{l}")).collect();
        let boxes = ["urn:epc:id:sscc:0614141.1000000001", "urn:epc:id:sscc:0614141.1000000002", "urn:epc:id:sscc:0614141.1000000003"];
        let xids = ["urn:qgov:x:1", "urn:qgov:x:2", "urn:qgov:x:3"];
        let mut events = Vec::new();
        for (n, (kind, hour, i, j, b, l)) in raw.into_iter().enumerate() {
            let id = format!("e{n}");
            events.push(match kind {
                0 => aggregate(hour, &id, Action::Add, DC, boxes[b], &[&items[i], &items[j]]),
                1 => aggregate(hour, &id, Action::Delete, DC, boxes[b], if i % 2 == 0 { &[] } else { std::slice::from_ref(&items[i]) }.iter().map(String::as_str).collect::<Vec<_>>().as_slice()),
                2 => {
                    let mut e = transform(hour, &id, PLANT, &[&lots[l]], &[&lots[(l + 1 + b) % 3]], None);
                    e.input_epc_list = epcs(&[&items[i]]);
                    e.output_epc_list = epcs(&[&items[j]]);
                    e
                }
                3 => transform(hour, &id, PLANT, &[&lots[l]], &[], Some(xids[b])),
                4 => {
                    let mut e = transform(hour, &id, PLANT, &[], &[&lots[l]], Some(xids[b]));
                    e.output_epc_list = epcs(&[&items[i]]);
                    e
                }
                _ => commission(hour, &id, FARM, &[&items[i]], Some(["L1", "L2", "L3"][l])),
            });
        }
        let ix = index(&events);
        for a in items.iter().chain(&lots) {
            if ix.forward(a).is_ok() {
                consistency(&ix, a, 20)?;
            }
        }
    }

    /// The same property on generated multi-tier chains, from farm lots and cases.
    #[test]
    fn forward_and_backward_agree_on_generated_chains(seed in 0u64..1_000, pick in 0usize..1_000) {
        let cfg = ChainConfig { seed, events: 8_000, pallets_per_lot: 2, cases_per_pallet: 6, ..ChainConfig::default() };
        let mut g = ChainGenerator::new(cfg);
        let ix = TraceIndex::from_events(&mut g).unwrap();
        let cat = g.catalog();
        let lot = &cat.farm_lots[pick % cat.farm_lots.len()];
        consistency(&ix, lot, 12)?;
        let product = &cat.product_lots[pick % cat.product_lots.len()];
        consistency(&ix, product, 12)?;
    }
}

/// An instance's lot comes from the link the walk followed: forward, from the lot's side (the
/// events declaring members of the lot); backward from the instance, from its own events.
/// Both, and the recall scope, must agree everywhere.
#[test]
fn lots_of_instances_agree_from_both_sides() {
    let cfg = ChainConfig { events: 30_000, ..ChainConfig::default() };
    let mut g = ChainGenerator::new(cfg);
    let ix = TraceIndex::from_events(&mut g).unwrap();
    let cat = g.catalog().clone();
    let mut checked = 0;
    for root in cat.farm_lots.iter().take(4).chain(cat.product_lots.iter().take(4)) {
        let t = ix.forward(root).unwrap();
        let scope = ix.recall_scope(root).unwrap();
        let in_scope: std::collections::HashMap<&str, Option<&str>> =
            scope.items.iter().map(|i| (i.id.as_str(), i.lot.as_deref())).collect();
        for n in t.nodes.iter().filter(|n| n.kind == NodeKind::Instance).step_by(7) {
            let own = ix.backward(&n.id).unwrap();
            let me = own.nodes.iter().find(|m| m.id == n.id).unwrap();
            assert_eq!(n.lot, me.lot, "lot of {}", n.id);
            assert_eq!(n.lot.as_deref(), in_scope[&*n.id], "scope lot of {}", n.id);
            checked += usize::from(n.lot.is_some());
        }
        // `lot_node` points at the lot's own node exactly when the trace reached the lot.
        let mut pointed = 0;
        for n in &t.nodes {
            let reached = n.lot.as_deref().and_then(|l| t.nodes.iter().position(|m| &*m.id == l));
            assert_eq!(n.lot_node.map(|p| p as usize), reached, "lot node of {}", n.id);
            pointed += usize::from(reached.is_some());
        }
        assert!(pointed > 0, "no node of the trace from {root} names a lot it reached");
    }
    assert!(checked > 100, "only {checked} instances with a lot");
}

/// An instance whose lot two events declare: the earliest declaration is its lot, also in a
/// trace from the later lot (which reaches it through that later link).
#[test]
fn an_instance_declared_in_two_lots_keeps_the_earliest() {
    let mut events = chain();
    let mut again = commission(20, "c1-again", PLANT, &[CASE1], Some("S7"));
    again.biz_step = Some("commissioning".into());
    events.push(again);
    let ix = index(&events);
    let later = dl("urn:epc:class:lgtin:0614141.054321.S7");
    let t = ix.forward(&later).unwrap();
    let case1 = t.nodes.iter().find(|n| *n.id == *dl(CASE1)).expect("case 1 reached from the later lot");
    assert_eq!(case1.lot.as_deref(), Some(dl(SALAD).as_str()));
    let scope = ix.recall_scope(&later).unwrap();
    let case1 = scope.items.iter().find(|i| i.id == dl(CASE1)).expect("case 1 in the later lot's scope");
    assert_eq!(case1.lot.as_deref(), Some(dl(SALAD).as_str()));
    let t = ix.forward(SALAD).unwrap();
    let case1 = t.nodes.iter().find(|n| *n.id == *dl(CASE1)).unwrap();
    assert_eq!(case1.lot.as_deref(), Some(dl(SALAD).as_str()));
}
