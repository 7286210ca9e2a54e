//! The demo district: a few hundred market entities of Binhai New Area (division code
//! 120116) across the industries the outline names, with their products, locations,
//! inspectors and an account for every role. Deterministic, so every demo looks alike;
//! seeded once (an existing demo database is reused as it is).

use anyhow::{Context, Result};
use qgov_domain::UnifiedCreditCode;
use qgov_domain::registers::{Industry, InspectorDraft, LocationDraft, MarketEntityDraft, ProductDraft};
use qgov_epcis::model::{Event, EventType};
use qgov_epcis::{Document, DocumentKind};
use qgov_store::epcis::{Capturer, ErrorBehaviour, gln_of};
use qgov_store::{Actor, ImportMode, ListQuery, NewUser, Store};
use qgov_trace::generator::{ChainConfig, ChainGenerator};
use std::collections::{BTreeMap, HashMap};

/// Streets and towns of Binhai New Area (the grid is street + a number).
const STREETS: &[&str] = &[
    "新港街道",
    "塘沽街道",
    "杭州道街道",
    "新河街道",
    "大沽街道",
    "新北街道",
    "北塘街道",
    "胡家园街道",
    "汉沽街道",
    "寨上街道",
    "茶淀街道",
    "大港街道",
    "古林街道",
    "海滨街道",
    "泰达街道",
    "新城镇",
    "中塘镇",
    "太平镇",
];
const PLACE_WORDS: &[&str] = &[
    "滨海", "泰达", "塘沽", "汉沽", "大港", "北塘", "临港", "渤海", "津港", "海河", "中新", "海晟", "津滨", "港城",
    "新河", "蓝海", "盛达", "恒通", "华源", "鑫泰", "瑞丰", "宏达", "金海", "和顺",
];
const SURNAMES: &[&str] =
    &["张", "王", "李", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"];
const GIVEN: &[&str] =
    &["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞"];

/// One industry of the demo: (industry, number of entities, name suffixes, entity type,
/// product names, location kind).
type Profile = (Industry, usize, &'static [&'static str], &'static str, &'static [&'static str], &'static str);

const PROFILE: &[Profile] = &[
    (
        Industry::FoodProduction,
        50,
        &["食品有限公司", "食品科技有限公司", "乳业有限公司"],
        "company",
        &["纯牛奶 250ml", "酸奶 200g", "速冻水饺 1kg", "挂面 500g", "酱油 500ml"],
        "factory",
    ),
    (
        Industry::FoodRetail,
        45,
        &["超市有限公司", "便利店", "副食品商店"],
        "company",
        &["大米 5kg", "食用植物油 5L"],
        "store",
    ),
    (Industry::Catering, 40, &["餐饮管理有限公司", "海鲜酒楼", "快餐店"], "company", &[], "restaurant"),
    (
        Industry::FarmProduce,
        40,
        &["农民专业合作社", "家庭农场", "蔬菜种植专业合作社"],
        "cooperative",
        &["黄瓜", "西红柿", "小站稻米 10kg"],
        "farm",
    ),
    (Industry::Pharmaceuticals, 25, &["大药房", "医药有限公司"], "company", &["布洛芬缓释胶囊", "维生素C片"], "store"),
    (Industry::Petrochemicals, 15, &["石化有限公司", "化工有限公司"], "company", &["聚丙烯颗粒 25kg"], "factory"),
    (
        Industry::Equipment,
        20,
        &["装备制造有限公司", "重工机械有限公司"],
        "company",
        &["电动葫芦", "压力容器"],
        "factory",
    ),
    (
        Industry::Vehicles,
        15,
        &["汽车销售服务有限公司", "汽车零部件有限公司"],
        "company",
        &["电动自行车", "汽车轮胎"],
        "store",
    ),
    (
        Industry::BuildingMaterials,
        25,
        &["建材有限公司", "混凝土有限公司", "钢材贸易有限公司"],
        "company",
        &["预拌混凝土 C30", "普通硅酸盐水泥 42.5", "热轧带肋钢筋 HRB400"],
        "factory",
    ),
    (Industry::ECommerce, 20, &["电子商务有限公司", "网络科技有限公司"], "company", &["进口奶粉 800g"], "warehouse"),
    (Industry::ColdChain, 15, &["冷链物流有限公司", "冷藏仓储有限公司"], "company", &[], "warehouse"),
];

/// A tiny deterministic generator (SplitMix64): the demo must look the same everywhere.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Charset of GB 32100 codes (no I, O, S, V, Z).
const CODE_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn gs1_with_check(body: &str) -> String {
    let b = body.as_bytes();
    let check = qgov_domain::ids::gs1_check_digit(b);
    format!("{body}{check}")
}

/// The demo accounts: (username, password, role).
pub const ACCOUNTS: &[(&str, &str, &str)] = &[
    ("admin", "demo-admin-2026", "admin"),
    ("regulator", "demo-regulator-2026", "regulator"),
    ("inspector", "demo-inspector-2026", "inspector"),
    ("enterprise", "demo-enterprise-2026", "enterprise"),
    ("enterprise2", "demo-enterprise-2026", "enterprise"),
];

/// What the demo holds, for the start-up message.
pub struct Demo {
    /// (username, password, role) of every demo account.
    pub accounts: Vec<(String, String, String)>,
    /// A product lot of the demo food chain, to try a trace with.
    pub trace_root: Option<String>,
}

/// Seed the demo district unless it is already there.
pub async fn seed(store: &Store) -> Result<Demo> {
    let accounts = ACCOUNTS.iter().map(|(u, p, r)| (u.to_string(), p.to_string(), r.to_string())).collect();
    if store.user_by_username("admin").await.is_ok() {
        // The catalogue fills as the generator runs, so run it to name the same lot.
        let mut chain = demo_chain();
        chain.by_ref().for_each(drop);
        return Ok(Demo { accounts, trace_root: chain.catalog().product_lots.first().cloned() });
    }
    let actor = Actor("system:demo".into());
    let mut g = Gen(20240601);
    let mut entity_rows = vec![];
    let mut product_rows = vec![];
    let mut location_rows = vec![];
    // Entities that can trade in the demo food chain, by industry, in register order.
    let mut traders: HashMap<Industry, Vec<Trader>> = HashMap::new();
    let mut n = 0usize;
    for (industry, count, suffixes, entity_type, products, loc_kind) in PROFILE {
        for _ in 0..*count {
            n += 1;
            let body: String =
                (0..8).map(|i| if i < 2 { ['M', 'A'][i] } else { *g.pick(CODE_CHARS) as char }).collect();
            let uscc =
                UnifiedCreditCode::compose(if *entity_type == "cooperative" { "93120116" } else { "91120116" }, &body)
                    .context("demo credit code")?;
            let street = *g.pick(STREETS);
            let name = format!("天津{}{}{}", g.pick(PLACE_WORDS), g.pick(PLACE_WORDS), g.pick(suffixes));
            let legal = format!("{}{}{}", g.pick(SURNAMES), g.pick(GIVEN), g.pick(GIVEN));
            let status = if n.is_multiple_of(29) {
                "abnormal"
            } else if n.is_multiple_of(41) {
                "deregistered"
            } else {
                "active"
            };
            let licence = match industry {
                Industry::FoodProduction => format!("SC1{:02}120116{:05}", g.next() % 40 + 10, n),
                Industry::FoodRetail | Industry::Catering => format!("JY1120116{:07}", n),
                Industry::Pharmaceuticals => format!("津AA0220{:03}", n % 1000),
                _ => String::new(),
            };
            let mut f = HashMap::new();
            f.insert("uscc", uscc.to_string());
            f.insert("name", name.clone());
            f.insert("entity_type", entity_type.to_string());
            f.insert("industry", industry.key().to_owned());
            f.insert("address", format!("天津市滨海新区{}{}路{}号", street, g.pick(PLACE_WORDS), g.next() % 300 + 1));
            f.insert("street", street.to_owned());
            f.insert("grid", format!("{street}第{}网格", g.next() % 12 + 1));
            f.insert("legal_representative", legal);
            f.insert("licences", licence);
            f.insert("status", status.to_owned());
            let draft = MarketEntityDraft::parse(&|k: &str| f.get(k).cloned())
                .map_err(|e| anyhow::anyhow!("demo entity: {e}"))?;
            entity_rows.push((n + 1, Ok(draft)));
            if status == "active" {
                traders.entry(*industry).or_default().push(Trader { uscc: uscc.to_string(), name: name.clone() });
            }
            for (j, p) in products.iter().enumerate().take(2) {
                let gtin = gs1_with_check(&format!("69{:05}{:05}", 12000 + n, j + (g.next() % 90) as usize * 10));
                let mut f = HashMap::new();
                f.insert("gtin", gtin);
                f.insert("name", (*p).to_owned());
                f.insert("brand", name.chars().skip(2).take(4).collect());
                f.insert("category", industry.key().to_owned());
                f.insert("owner_uscc", uscc.to_string());
                let d = ProductDraft::parse(&|k: &str| f.get(k).cloned())
                    .map_err(|e| anyhow::anyhow!("demo product: {e}"))?;
                product_rows.push((product_rows.len() + 2, Ok(d)));
            }
            let gln = gs1_with_check(&format!("69{:05}{:05}", 50000 + n, n));
            let mut f = HashMap::new();
            f.insert("gln", gln);
            f.insert("name", format!("{name}{}", if *loc_kind == "farm" { "种植基地" } else { "经营场所" }));
            f.insert("kind", loc_kind.to_string());
            f.insert("street", street.to_owned());
            f.insert("owner_uscc", uscc.to_string());
            let d = LocationDraft::parse(&|k: &str| f.get(k).cloned())
                .map_err(|e| anyhow::anyhow!("demo location: {e}"))?;
            location_rows.push((location_rows.len() + 2, Ok(d)));
        }
    }
    let quiet = |_: usize| {};
    store.import_entities(&actor, entity_rows, ImportMode::AllOrNothing, &quiet).await?.map_err(rows_error)?;
    store.import_products(&actor, product_rows, ImportMode::AllOrNothing, &quiet).await?.map_err(rows_error)?;
    store.import_locations(&actor, location_rows, ImportMode::AllOrNothing, &quiet).await?.map_err(rows_error)?;

    let specialties: &[&str] = &[
        "food",
        "farm_produce",
        "drugs",
        "special_equipment",
        "building_materials",
        "industrial_products",
        "cold_chain",
    ];
    let units = ["amr", "amr", "amr", "agri", "health", "housing", "miit", "commerce", "transport"];
    let mut inspector_rows = vec![];
    for i in 0..40 {
        let mut f = HashMap::new();
        f.insert("name", format!("{}{}{}", g.pick(SURNAMES), g.pick(GIVEN), g.pick(GIVEN)));
        f.insert("department_code", units[i % units.len()].to_owned());
        f.insert("certificate_no", format!("12011600{:04}", 1001 + i));
        f.insert("specialties", format!("{};{}", g.pick(specialties), g.pick(specialties)));
        let d =
            InspectorDraft::parse(&|k: &str| f.get(k).cloned()).map_err(|e| anyhow::anyhow!("demo inspector: {e}"))?;
        inspector_rows.push((i + 2, Ok(d)));
    }
    store.import_inspectors(&actor, inspector_rows, ImportMode::AllOrNothing, &quiet).await?.map_err(rows_error)?;

    // Enterprise accounts: the first food producer and the first retailer.
    let food = store
        .list_entities(&ListQuery {
            filters: vec![("industry".into(), "food_production".into())],
            per_page: 1,
            ..Default::default()
        })
        .await?;
    let retail = store
        .list_entities(&ListQuery {
            filters: vec![("industry".into(), "food_retail".into())],
            per_page: 1,
            ..Default::default()
        })
        .await?;
    let amr = store.department_by_code("amr").await?.id;
    for (username, password, role) in ACCOUNTS {
        let role: qgov_domain::Role = role.parse()?;
        let (department_id, entity_id) = match (*username, role) {
            ("enterprise", _) => (None, food.items.first().map(|e| e.id)),
            ("enterprise2", _) => (None, retail.items.first().map(|e| e.id)),
            (_, qgov_domain::Role::Regulator | qgov_domain::Role::Inspector) => (Some(amr), None),
            _ => (None, None),
        };
        store
            .create_user(
                &actor,
                &NewUser {
                    username: username.to_string(),
                    password: password.to_string(),
                    role,
                    department_id,
                    entity_id,
                },
            )
            .await?;
    }
    let trace_root = seed_trace_chain(store, &actor, &traders).await?;
    Ok(Demo { accounts, trace_root })
}

/// The demo's food chain: farms → processors (lot transformations) → cases and pallets →
/// distributors → retailers, with a decoy network, small enough to seed in a moment.
fn demo_chain() -> ChainGenerator {
    ChainGenerator::new(ChainConfig {
        seed: 2024,
        events: 3_000,
        farms: 12,
        processors: 3,
        distributors: 4,
        retailers: 20,
        pallets_per_lot: 4,
        cases_per_pallet: 6,
        uses_per_part: 4,
    })
}

/// An active entity of the demo register that can own places of the food chain.
struct Trader {
    uscc: String,
    name: String,
}

/// A trading partner's part in the chain, as its events show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Tier {
    Farm,
    Processor,
    Distributor,
    Retailer,
}

impl Tier {
    /// The register industry whose entities play this part.
    fn industry(self) -> Industry {
        match self {
            Tier::Farm => Industry::FarmProduce,
            Tier::Processor => Industry::FoodProduction,
            Tier::Distributor => Industry::ColdChain,
            Tier::Retailer => Industry::FoodRetail,
        }
    }
    /// Location kind, where such places lie (farms in the townships, factories in the
    /// development zones, cold stores by the port, shops in town) and what a place is called.
    fn place(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            Tier::Farm => ("farm", &["中塘镇", "太平镇", "茶淀街道", "寨上街道", "新城镇"], "种植基地"),
            Tier::Processor => ("factory", &["泰达街道", "古林街道", "大港街道"], "加工厂"),
            Tier::Distributor => ("warehouse", &["新港街道", "北塘街道", "胡家园街道"], "冷链配送中心"),
            Tier::Retailer => (
                "store",
                &["塘沽街道", "新河街道", "杭州道街道", "新北街道", "大沽街道", "汉沽街道", "泰达街道", "新港街道"],
                "店",
            ),
        }
    }
}

/// Every GLN the chain names (read points, business locations, source and destination
/// parties) with its tier. The generator keeps its trading partners to itself, so they are
/// read off the events: a farm commissions lots by quantity, a processor receives them and
/// transforms, a retailer stocks and sells; what is left packs and ships pallets.
fn chain_sites(events: &[Event]) -> BTreeMap<String, Tier> {
    let mut sites: BTreeMap<String, Tier> = BTreeMap::new();
    for ev in events {
        let step = ev.biz_step.as_deref().unwrap_or("");
        let by_quantity = !ev.quantity_list.is_empty();
        let tier = match (ev.event_type, step) {
            (EventType::Transformation, _) => Tier::Processor,
            (EventType::Object, "commissioning") if by_quantity => Tier::Farm,
            (EventType::Object, "receiving") if by_quantity => Tier::Processor,
            (_, "stocking" | "retail_selling") => Tier::Retailer,
            _ => Tier::Distributor,
        };
        let here = ev.read_point.iter().chain(&ev.biz_location).map(|l| l.id.as_str());
        for gln in here.filter_map(gln_of) {
            // Distributor is only the fallback: any stronger evidence wins.
            let t = sites.entry(gln).or_insert(tier);
            if *t == Tier::Distributor {
                *t = tier;
            }
        }
        let parties = ev.source_list.iter().chain(&ev.destination_list).map(|s| s.id.as_str());
        for gln in parties.filter_map(gln_of) {
            sites.entry(gln).or_insert(Tier::Distributor);
        }
    }
    sites
}

/// Register drafts for the chain's places: each GLN (its SGLN place and PGLN party alike)
/// becomes a location of Binhai New Area with a street and grid, owned by an entity of the
/// tier's industry, taken in register order (so the demo's enterprise accounts, the first
/// food producer and the first retailer, own places of the chain).
fn chain_locations(
    sites: &BTreeMap<String, Tier>,
    traders: &HashMap<Industry, Vec<Trader>>,
) -> Result<Vec<LocationDraft>> {
    let mut used: HashMap<Tier, usize> = HashMap::new();
    let mut out = vec![];
    for (gln, tier) in sites {
        let i = *used.entry(*tier).and_modify(|i| *i += 1).or_insert(0);
        let owners = traders.get(&tier.industry()).map(Vec::as_slice).unwrap_or_default();
        anyhow::ensure!(!owners.is_empty(), "no demo entity of {:?} to own chain places", tier.industry());
        // More places than entities: the later ones are second branches of the first.
        let owner = &owners[i % owners.len()];
        let (kind, streets, suffix) = tier.place();
        let street = streets[i % streets.len()];
        let short = street.trim_end_matches("街道").trim_end_matches('镇');
        let mut f = HashMap::new();
        f.insert("gln", gln.clone());
        f.insert("name", format!("{}{short}{suffix}", owner.name));
        f.insert("kind", kind.to_owned());
        f.insert(
            "address",
            format!("天津市滨海新区{street}{}路{}号", PLACE_WORDS[(i * 7 + 3) % PLACE_WORDS.len()], 10 + i * 13 % 280),
        );
        f.insert("street", street.to_owned());
        f.insert("grid", format!("{street}第{}网格", i / streets.len() % 6 + 1));
        f.insert("owner_uscc", owner.uscc.clone());
        out.push(
            LocationDraft::parse(&|k: &str| f.get(k).cloned()).map_err(|e| anyhow::anyhow!("demo chain place: {e}"))?,
        );
    }
    Ok(out)
}

/// What the chain's farms harvest, by lot: vegetables and rice of the district's townships,
/// given to the produce GTINs the chain uses in GTIN order.
const CHAIN_PRODUCE: &[&str] = &["黄瓜", "西红柿", "大白菜", "沙窝萝卜", "小站稻谷", "芹菜", "韭菜", "茄子"];
/// What the chain's factories make of it, given to its product GTINs in GTIN order.
const CHAIN_PRODUCTS: &[&str] = &[
    "速冻什锦蔬菜 1kg",
    "番茄酱 400g",
    "酱腌萝卜 500g",
    "速冻韭菜水饺 1kg",
    "蔬菜汁饮料 250ml",
    "酸白菜 500g",
    "脱水蔬菜 100g",
    "什锦酱菜 500g",
];

/// The GTIN (14 digits) of a GTIN-keyed identifier in canonical Digital Link form.
fn gtin_of(canonical: &str) -> Option<&str> {
    let gtin = canonical.strip_prefix("https://id.gs1.org/01/")?.get(..14)?;
    gtin.bytes().all(|b| b.is_ascii_digit()).then_some(gtin)
}

/// A trade item of the chain: whether farms harvest it or factories make it, and how many
/// times each place (GLN) did.
#[derive(Debug, Default)]
struct Good {
    tier: Option<Tier>,
    makers: BTreeMap<String, usize>,
}

/// Every GTIN the chain names (items, lots, inputs and outputs), with who makes it: a farm
/// commissions produce lots by quantity, a factory's transformation outputs a product lot.
fn chain_goods(events: &[Event]) -> BTreeMap<String, Good> {
    let mut goods: BTreeMap<String, Good> = BTreeMap::new();
    for ev in events {
        let step = ev.biz_step.as_deref().unwrap_or("");
        let made = match (ev.event_type, step) {
            (EventType::Transformation, _) => Some((Tier::Processor, &ev.output_quantity_list)),
            (EventType::Object, "commissioning") if !ev.quantity_list.is_empty() => {
                Some((Tier::Farm, &ev.quantity_list))
            }
            _ => None,
        };
        let site = ev.read_point.as_ref().and_then(|l| gln_of(l.id.as_str()));
        if let (Some((tier, made)), Some(site)) = (made, site) {
            for q in made {
                if let Some(gtin) = gtin_of(q.epc_class.as_str()) {
                    let g = goods.entry(gtin.to_owned()).or_default();
                    g.tier = Some(tier);
                    *g.makers.entry(site.clone()).or_default() += 1;
                }
            }
        }
        let quantities =
            [&ev.quantity_list, &ev.child_quantity_list, &ev.input_quantity_list, &ev.output_quantity_list];
        let classes = quantities.into_iter().flatten().map(|q| q.epc_class.as_str());
        let items = [&ev.epc_list, &ev.child_epcs, &ev.input_epc_list, &ev.output_epc_list];
        for id in classes.chain(items.into_iter().flatten().map(|e| e.as_str())) {
            if let Some(gtin) = gtin_of(id) {
                goods.entry(gtin.to_owned()).or_default();
            }
        }
    }
    goods
}

/// Register drafts for the chain's trade items: produce named as harvested, products as
/// made, each owned by the entity owning the place that makes it most often (the decoy
/// network uses the same GTINs, less often) and branded with its name. The GTIN is kept
/// as printed on the pack (GTIN-13); traces find it by its 14-digit form.
fn chain_products(
    goods: &BTreeMap<String, Good>,
    places: &[LocationDraft],
    traders: &HashMap<Industry, Vec<Trader>>,
) -> Result<Vec<ProductDraft>> {
    let owner_of: HashMap<&str, String> =
        places.iter().filter_map(|p| Some((p.gln.as_str(), p.owner_uscc.as_ref()?.to_string()))).collect();
    let name_of: HashMap<&str, &str> = traders.values().flatten().map(|t| (t.uscc.as_str(), t.name.as_str())).collect();
    let mut used: HashMap<Tier, usize> = HashMap::new();
    let mut out = vec![];
    for (gtin, good) in goods {
        let tier = good.tier.with_context(|| format!("no event of the chain makes GTIN {gtin}"))?;
        let names = if tier == Tier::Farm { CHAIN_PRODUCE } else { CHAIN_PRODUCTS };
        let i = *used.entry(tier).and_modify(|i| *i += 1).or_insert(0);
        let name = names.get(i).with_context(|| format!("more {tier:?} GTINs in the chain than demo names"))?;
        let (site, _) = good.makers.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).expect("a maker");
        let owner =
            owner_of.get(site.as_str()).with_context(|| format!("the maker of {gtin}, {site}, is unregistered"))?;
        let brand: String =
            name_of.get(owner.as_str()).map(|n| n.chars().skip(2).take(4).collect()).unwrap_or_default();
        let mut f = HashMap::new();
        f.insert("gtin", gtin.strip_prefix('0').unwrap_or(gtin).to_owned());
        f.insert("name", (*name).to_owned());
        f.insert("brand", brand);
        f.insert("category", tier.industry().key().to_owned());
        f.insert("owner_uscc", owner.clone());
        out.push(
            ProductDraft::parse(&|k: &str| f.get(k).cloned())
                .map_err(|e| anyhow::anyhow!("demo chain product: {e}"))?,
        );
    }
    Ok(out)
}

/// Capture the demo chain through the EPCIS repository, so the trace-event browser, the
/// trace pages and recall scopes have something to show, after registering every place and
/// party it names and every trade item it carries (through the register imports, validated
/// and audited like any other). Returns a product lot to trace.
async fn seed_trace_chain(
    store: &Store,
    actor: &Actor,
    traders: &HashMap<Industry, Vec<Trader>>,
) -> Result<Option<String>> {
    let mut chain = demo_chain();
    let events: Vec<Event> = chain.by_ref().collect();
    let places = chain_locations(&chain_sites(&events), traders)?;
    let products = chain_products(&chain_goods(&events), &places, traders)?;
    let rows = places.into_iter().enumerate().map(|(i, d)| (i + 2, Ok(d))).collect();
    store.import_locations(actor, rows, ImportMode::AllOrNothing, &|_| {}).await?.map_err(rows_error)?;
    let rows = products.into_iter().enumerate().map(|(i, d)| (i + 2, Ok(d))).collect();
    store.import_products(actor, rows, ImportMode::AllOrNothing, &|_| {}).await?.map_err(rows_error)?;
    for batch in events.chunks(1_000) {
        let doc = Document {
            kind: DocumentKind::Capture,
            schema_version: "2.0".into(),
            events: batch.to_vec(),
            ..Default::default()
        };
        store.epcis_capture(actor, &Capturer::default(), doc, ErrorBehaviour::Rollback, vec![]).await?;
    }
    Ok(chain.catalog().product_lots.first().cloned())
}

fn rows_error(rows: Vec<qgov_store::RowError>) -> anyhow::Error {
    anyhow::anyhow!("demo data refused: {:?}", rows.iter().take(5).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator numbers its partners farms first, then processors, distributors and
    /// retailers (`6901234` + five digits + check): the tiers read off the events agree.
    #[test]
    fn every_partner_of_the_chain_is_found_in_its_tier() {
        let events: Vec<Event> = demo_chain().collect();
        let sites = chain_sites(&events);
        let tier_of_number = |n: u32| match n {
            1..=12 => Tier::Farm,
            13..=22 => Tier::Processor,
            23..=32 => Tier::Distributor,
            _ => Tier::Retailer,
        };
        for (gln, tier) in &sites {
            assert!(gln.starts_with("6901234"), "{gln}");
            let n: u32 = gln[7..12].parse().unwrap();
            assert_eq!(*tier, tier_of_number(n), "{gln}");
        }
        // Every processor, distributor and retailer trades; some farms may not yet.
        assert_eq!(sites.values().filter(|t| **t == Tier::Retailer).count(), 20);
        assert_eq!(sites.values().filter(|t| **t == Tier::Distributor).count(), 10);
        assert!(sites.values().filter(|t| **t == Tier::Farm).count() >= 5);
        // Every place and party named by any event is among them.
        for ev in &events {
            let named = ev.read_point.iter().chain(&ev.biz_location).map(|l| l.id.as_str());
            let parties = ev.source_list.iter().chain(&ev.destination_list).map(|s| s.id.as_str());
            for id in named.chain(parties) {
                assert!(gln_of(id).is_some_and(|g| sites.contains_key(&g)), "{id}");
            }
        }
    }

    /// Three entities of each trade of the chain.
    fn traders() -> HashMap<Industry, Vec<Trader>> {
        let mut traders: HashMap<Industry, Vec<Trader>> = HashMap::new();
        for (i, industry) in
            [Industry::FarmProduce, Industry::FoodProduction, Industry::ColdChain, Industry::FoodRetail]
                .iter()
                .enumerate()
        {
            for k in 0..3 {
                let uscc = UnifiedCreditCode::compose("91120116", &format!("MA0000{i}{k}")).unwrap();
                traders
                    .entry(*industry)
                    .or_default()
                    .push(Trader { uscc: uscc.to_string(), name: format!("天津测试{i}{k}") });
            }
        }
        traders
    }

    #[test]
    fn chain_places_are_owned_by_entities_of_their_trade_and_spread_over_streets() {
        let events: Vec<Event> = demo_chain().collect();
        let sites = chain_sites(&events);
        let traders = traders();
        let places = chain_locations(&sites, &traders).unwrap();
        assert_eq!(places.len(), sites.len());
        for (p, (gln, tier)) in places.iter().zip(&sites) {
            assert_eq!(p.gln.as_str(), gln);
            let owner = p.owner_uscc.as_ref().unwrap().to_string();
            assert!(traders[&tier.industry()].iter().any(|t| t.uscc == owner), "{gln} owned by its trade");
            let street = p.street.as_deref().unwrap();
            assert!(STREETS.contains(&street), "{street} is a street of Binhai New Area");
            assert!(p.grid.as_deref().unwrap().starts_with(street));
        }
        let shops: std::collections::BTreeSet<_> =
            places.iter().filter(|p| p.kind.key() == "store").filter_map(|p| p.street.as_deref()).collect();
        assert!(shops.len() >= 5, "{shops:?}");
    }

    /// Every GTIN any event of the chain names (case, lot, input, output) is a registered
    /// product, so no trace shows an unnamed product; produce is owned by the entity owning
    /// the farm that harvests it, products by the one owning the factory that makes them.
    #[test]
    fn every_trade_item_of_the_chain_is_registered_by_its_maker() {
        let events: Vec<Event> = demo_chain().collect();
        let traders = traders();
        let places = chain_locations(&chain_sites(&events), &traders).unwrap();
        let goods = chain_goods(&events);
        let products = chain_products(&goods, &places, &traders).unwrap();
        let registered: HashMap<String, &ProductDraft> = products.iter().map(|p| (p.gtin.to_gtin14(), p)).collect();
        assert_eq!(registered.len(), products.len(), "each GTIN once");
        let mut named = 0;
        for ev in &events {
            let quantities =
                [&ev.quantity_list, &ev.child_quantity_list, &ev.input_quantity_list, &ev.output_quantity_list];
            let classes = quantities.into_iter().flatten().map(|q| q.epc_class.as_str());
            let items = [&ev.epc_list, &ev.child_epcs, &ev.input_epc_list, &ev.output_epc_list];
            for id in classes.chain(items.into_iter().flatten().map(|e| e.as_str())).filter_map(gtin_of) {
                assert!(registered.contains_key(id), "GTIN {id} of the chain is registered");
                named += 1;
            }
        }
        assert!(named > 1_000, "the chain names its goods ({named} times)");
        let produce: Vec<&str> =
            products.iter().filter(|p| CHAIN_PRODUCE.contains(&p.name.as_str())).map(|p| p.name.as_str()).collect();
        let made: Vec<&str> =
            products.iter().filter(|p| CHAIN_PRODUCTS.contains(&p.name.as_str())).map(|p| p.name.as_str()).collect();
        assert!(produce.len() >= 2 && made.len() >= 2, "{produce:?} {made:?}");
        assert_eq!(produce.len() + made.len(), products.len(), "every item has a demo name");
        let names: std::collections::BTreeSet<&str> = products.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), products.len(), "names are distinct");
        let owner_of: HashMap<&str, String> =
            places.iter().map(|p| (p.gln.as_str(), p.owner_uscc.as_ref().unwrap().to_string())).collect();
        for p in &products {
            let good = &goods[&p.gtin.to_gtin14()];
            let (farm, industry) = if CHAIN_PRODUCE.contains(&p.name.as_str()) {
                (Tier::Farm, Industry::FarmProduce)
            } else {
                (Tier::Processor, Industry::FoodProduction)
            };
            assert_eq!(good.tier, Some(farm), "{}", p.name);
            assert_eq!(p.category.as_deref(), Some(industry.key()));
            let owner = p.owner_uscc.as_ref().unwrap().to_string();
            assert!(traders[&industry].iter().any(|t| t.uscc == owner), "{} is owned by its trade", p.name);
            assert!(
                good.makers.keys().any(|gln| owner_of[gln.as_str()] == owner),
                "{} is owned by the owner of a place that makes it",
                p.name
            );
            assert!(p.gtin.as_str().len() == 13 && p.gtin.as_str().starts_with("6901234"), "{}", p.gtin);
        }
    }
}
