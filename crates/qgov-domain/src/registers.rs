//! The registers: market entities, products, locations, departments and inspectors.
//!
//! Every way a record enters qgov — JSON API, console form, CSV or XLSX row — goes
//! through one `parse` per register that takes named text fields and returns either a
//! valid draft or every field error at once. Column names are the same everywhere
//! (API field, form field, import/export column).

use crate::ids::{Gln, Gtin, UnifiedCreditCode};
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};

/// Reads a named field as trimmed text; empty counts as absent.
pub trait Fields {
    fn text(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Fields for F {
    fn text(&self, name: &str) -> Option<String> {
        self(name).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    }
}

/// Declares a closed vocabulary stored as its snake_case key.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $key:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $key)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn key(self) -> &'static str { match self { $($name::$variant => $key),+ } }
            pub fn parse(s: &str) -> Option<Self> { Self::ALL.iter().copied().find(|v| v.key() == s) }
            /// Comma-separated list of the valid keys, for error messages.
            pub fn keys() -> String { Self::ALL.iter().map(|v| v.key()).collect::<Vec<_>>().join(", ") }
        }
    };
}

vocabulary! {
    /// The industries and chains the Binhai outline names.
    Industry {
        FoodProduction = "food_production",
        FoodRetail = "food_retail",
        Catering = "catering",
        FarmProduce = "farm_produce",
        Pharmaceuticals = "pharmaceuticals",
        MedicalDevices = "medical_devices",
        ColdChain = "cold_chain",
        Petrochemicals = "petrochemicals",
        Equipment = "equipment",
        Vehicles = "vehicles",
        BuildingMaterials = "building_materials",
        ECommerce = "e_commerce",
        Other = "other",
    }
}

vocabulary! {
    /// Kind of market entity (市场主体类型).
    EntityType {
        Company = "company",
        SoleProprietor = "sole_proprietor",
        Cooperative = "cooperative",
        Branch = "branch",
        Partnership = "partnership",
        Other = "other",
    }
}

vocabulary! {
    /// Registration status (登记状态).
    EntityStatus {
        Active = "active",
        Abnormal = "abnormal",
        Suspended = "suspended",
        Revoked = "revoked",
        Deregistered = "deregistered",
    }
}

vocabulary! {
    /// Kind of location.
    LocationKind {
        Farm = "farm",
        Factory = "factory",
        Warehouse = "warehouse",
        Store = "store",
        Restaurant = "restaurant",
        ConstructionSite = "construction_site",
        Other = "other",
    }
}

fn required(f: &impl Fields, errs: &mut FieldErrors, name: &str, max: usize) -> String {
    match f.text(name) {
        None => {
            errs.push(name, "required", "is required");
            String::new()
        }
        Some(v) => {
            if v.chars().count() > max {
                errs.push(name, "too-long", format!("must be at most {max} characters"));
            }
            v
        }
    }
}

fn optional(f: &impl Fields, errs: &mut FieldErrors, name: &str, max: usize) -> Option<String> {
    let v = f.text(name)?;
    if v.chars().count() > max {
        errs.push(name, "too-long", format!("must be at most {max} characters"));
    }
    Some(v)
}

fn vocab<T: Copy>(
    f: &impl Fields,
    errs: &mut FieldErrors,
    name: &str,
    parse: fn(&str) -> Option<T>,
    keys: fn() -> String,
    default: T,
) -> T {
    match f.text(name) {
        None => default,
        Some(v) => parse(&v).unwrap_or_else(|| {
            errs.push(name, "unknown-value", format!("{v:?} is not one of: {}", keys()));
            default
        }),
    }
}

/// A `;`-separated list (licences, specialties).
fn list(f: &impl Fields, name: &str) -> Vec<String> {
    f.text(name)
        .map(|s| s.split([';', '；']).map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A valid market entity (市场主体) ready to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketEntityDraft {
    pub uscc: UnifiedCreditCode,
    pub name: String,
    pub entity_type: EntityType,
    pub industry: Industry,
    pub address: Option<String>,
    pub street: Option<String>,
    pub grid: Option<String>,
    pub legal_representative: Option<String>,
    pub licences: Vec<String>,
    pub status: EntityStatus,
}

impl MarketEntityDraft {
    pub const COLUMNS: &'static [&'static str] = &[
        "uscc",
        "name",
        "entity_type",
        "industry",
        "address",
        "street",
        "grid",
        "legal_representative",
        "licences",
        "status",
    ];

    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let uscc = match f.text("uscc") {
            None => {
                e.push("uscc", "required", "is required");
                None
            }
            Some(v) => match UnifiedCreditCode::parse(&v) {
                Ok(c) => Some(c),
                Err(err) => {
                    e.push("uscc", err.code(), format!("invalid unified social credit code: {err}"));
                    None
                }
            },
        };
        let name = required(f, &mut e, "name", 200);
        let entity_type = vocab(f, &mut e, "entity_type", EntityType::parse, EntityType::keys, EntityType::Company);
        let industry = vocab(f, &mut e, "industry", Industry::parse, Industry::keys, Industry::Other);
        let address = optional(f, &mut e, "address", 300);
        let street = optional(f, &mut e, "street", 100);
        let grid = optional(f, &mut e, "grid", 100);
        let legal_representative = optional(f, &mut e, "legal_representative", 100);
        let licences = list(f, "licences");
        let status = vocab(f, &mut e, "status", EntityStatus::parse, EntityStatus::keys, EntityStatus::Active);
        match uscc {
            Some(uscc) if e.is_empty() => Ok(Self {
                uscc,
                name,
                entity_type,
                industry,
                address,
                street,
                grid,
                legal_representative,
                licences,
                status,
            }),
            _ => Err(e),
        }
    }
}

/// A valid product (GTIN) ready to store; `owner_uscc` names the brand owner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductDraft {
    pub gtin: Gtin,
    pub name: String,
    pub brand: Option<String>,
    pub specification: Option<String>,
    pub category: Option<String>,
    pub owner_uscc: Option<UnifiedCreditCode>,
}

impl ProductDraft {
    pub const COLUMNS: &'static [&'static str] = &["gtin", "name", "brand", "specification", "category", "owner_uscc"];

    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let gtin = id_field(f, &mut e, "gtin", Gtin::parse, "GTIN");
        let name = required(f, &mut e, "name", 200);
        let brand = optional(f, &mut e, "brand", 100);
        let specification = optional(f, &mut e, "specification", 100);
        let category = optional(f, &mut e, "category", 100);
        let owner_uscc = optional_uscc(f, &mut e, "owner_uscc");
        match gtin {
            Some(gtin) if e.is_empty() => Ok(Self { gtin, name, brand, specification, category, owner_uscc }),
            _ => Err(e),
        }
    }
}

/// A valid location (GLN) ready to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationDraft {
    pub gln: Gln,
    pub name: String,
    pub kind: LocationKind,
    pub address: Option<String>,
    pub street: Option<String>,
    pub grid: Option<String>,
    pub owner_uscc: Option<UnifiedCreditCode>,
}

impl LocationDraft {
    pub const COLUMNS: &'static [&'static str] = &["gln", "name", "kind", "address", "street", "grid", "owner_uscc"];

    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let gln = id_field(f, &mut e, "gln", Gln::parse, "GLN");
        let name = required(f, &mut e, "name", 200);
        let kind = vocab(f, &mut e, "kind", LocationKind::parse, LocationKind::keys, LocationKind::Other);
        let address = optional(f, &mut e, "address", 300);
        let street = optional(f, &mut e, "street", 100);
        let grid = optional(f, &mut e, "grid", 100);
        let owner_uscc = optional_uscc(f, &mut e, "owner_uscc");
        match gln {
            Some(gln) if e.is_empty() => Ok(Self { gln, name, kind, address, street, grid, owner_uscc }),
            _ => Err(e),
        }
    }
}

/// A department / responsible unit (责任单位).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentDraft {
    /// Short stable code, e.g. `amr` for 区市场监管局.
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
}

impl DepartmentDraft {
    pub const COLUMNS: &'static [&'static str] = &["code", "name", "name_en"];

    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let code = required(f, &mut e, "code", 40);
        if !code.is_empty()
            && !code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            e.push("code", "bad-code", "may contain only a-z, 0-9, '-' and '_'");
        }
        let name = required(f, &mut e, "name", 100);
        let name_en = optional(f, &mut e, "name_en", 200);
        e.into_result(Self { code, name, name_en })
    }
}

/// An inspector of the inspector directory (执法检查人员名录库).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectorDraft {
    pub name: String,
    /// Code of the department the inspector belongs to.
    pub department_code: String,
    pub certificate_no: String,
    pub specialties: Vec<String>,
}

impl InspectorDraft {
    pub const COLUMNS: &'static [&'static str] = &["name", "department_code", "certificate_no", "specialties"];

    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = required(f, &mut e, "name", 100);
        let department_code = required(f, &mut e, "department_code", 40);
        let certificate_no = required(f, &mut e, "certificate_no", 60);
        let specialties = list(f, "specialties");
        e.into_result(Self { name, department_code, certificate_no, specialties })
    }
}

fn id_field<T, E: std::fmt::Display>(
    f: &impl Fields,
    errs: &mut FieldErrors,
    name: &str,
    parse: fn(&str) -> Result<T, E>,
    what: &str,
) -> Option<T> {
    match f.text(name) {
        None => {
            errs.push(name, "required", "is required");
            None
        }
        Some(v) => match parse(&v) {
            Ok(x) => Some(x),
            Err(err) => {
                errs.push(name, "invalid-id", format!("invalid {what}: {err}"));
                None
            }
        },
    }
}

fn optional_uscc(f: &impl Fields, errs: &mut FieldErrors, name: &str) -> Option<UnifiedCreditCode> {
    let v = f.text(name)?;
    match UnifiedCreditCode::parse(&v) {
        Ok(c) => Some(c),
        Err(err) => {
            errs.push(name, err.code(), format!("invalid unified social credit code: {err}"));
            None
        }
    }
}

/// The departments / responsible units the Binhai outline names, seeded at first start.
pub const SEED_DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("amr", "区市场监管局", "District Administration for Market Regulation"),
    ("agri", "区农业农村委", "District Agriculture and Rural Affairs Commission"),
    ("miit", "区工业和信息化局", "District Bureau of Industry and Information Technology"),
    ("commerce", "区商务和投促局", "District Bureau of Commerce and Investment Promotion"),
    ("health", "区卫生健康委", "District Health Commission"),
    ("housing", "区住房建设委", "District Housing and Construction Commission"),
    ("transport", "区交通运输局", "District Transport Bureau"),
    ("science", "区科技局", "District Science and Technology Bureau"),
    ("ndrc", "区发展改革委", "District Development and Reform Commission"),
    ("education", "区教育体育局", "District Education and Sports Bureau"),
    ("ecology", "区生态环境局", "District Ecology and Environment Bureau"),
    ("emergency", "区应急管理局", "District Emergency Management Bureau"),
    ("ports", "天津港保税区市场监管局", "Tianjin Port Free Trade Zone Market Regulation Bureau"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fields(pairs: &[(&str, &str)]) -> impl Fields {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn entity_collects_every_error() {
        let e = MarketEntityDraft::parse(&fields(&[("uscc", "123"), ("industry", "mining")])).unwrap_err();
        let names: Vec<_> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(names, ["uscc", "name", "industry"]);
        assert!(e.get("industry").unwrap().message.contains("food_production"));
    }

    #[test]
    fn entity_parses_lists_and_defaults() {
        let code = UnifiedCreditCode::compose("91120116", "MA05K1TQ").unwrap();
        let d = MarketEntityDraft::parse(&fields(&[
            ("uscc", code.as_str()),
            ("name", " 天津滨海示例食品有限公司 "),
            ("licences", "SC11212011600012; JY112011600001；"),
        ]))
        .unwrap();
        assert_eq!(d.name, "天津滨海示例食品有限公司");
        assert_eq!(d.licences, ["SC11212011600012", "JY112011600001"]);
        assert_eq!(d.status, EntityStatus::Active);
    }

    #[test]
    fn other_registers() {
        assert!(ProductDraft::parse(&fields(&[("gtin", "6901234567892"), ("name", "x")])).is_ok());
        assert_eq!(
            ProductDraft::parse(&fields(&[("gtin", "6901234567891"), ("name", "x")])).unwrap_err().0[0].field,
            "gtin"
        );
        assert!(
            LocationDraft::parse(&fields(&[("gln", "6901234000009"), ("name", "仓库"), ("kind", "warehouse")])).is_ok()
        );
        assert_eq!(
            DepartmentDraft::parse(&fields(&[("code", "A B"), ("name", "x")])).unwrap_err().0[0].code,
            "bad-code"
        );
        let i = InspectorDraft::parse(&fields(&[
            ("name", "张三"),
            ("department_code", "amr"),
            ("certificate_no", "12010001"),
            ("specialties", "food;drugs"),
        ]))
        .unwrap();
        assert_eq!(i.specialties, ["food", "drugs"]);
    }
}
