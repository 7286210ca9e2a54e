//! The registers on disk: market entities, products, locations, departments and
//! inspectors. One generic create / update / import / list path serves all five; each
//! register only says how its rows map to SQL ([`Register`]).

use crate::audit::WriteTx;
use crate::{Actor, Result, Store, StoreError, now};
use qgov_domain::registers::{DepartmentDraft, Fields, InspectorDraft, LocationDraft, MarketEntityDraft, ProductDraft};
use qgov_domain::{FieldErrors, UnifiedCreditCode};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// The five registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    Enterprises,
    Products,
    Locations,
    Departments,
    Inspectors,
}

impl RegisterKind {
    pub const ALL: [RegisterKind; 5] = [
        RegisterKind::Enterprises,
        RegisterKind::Products,
        RegisterKind::Locations,
        RegisterKind::Departments,
        RegisterKind::Inspectors,
    ];
    /// URL segment and audit target type.
    pub fn slug(self) -> &'static str {
        match self {
            RegisterKind::Enterprises => "enterprises",
            RegisterKind::Products => "products",
            RegisterKind::Locations => "locations",
            RegisterKind::Departments => "departments",
            RegisterKind::Inspectors => "inspectors",
        }
    }
    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }
    /// Import/export columns, in order (the draft's field names).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            RegisterKind::Enterprises => MarketEntityDraft::COLUMNS,
            RegisterKind::Products => ProductDraft::COLUMNS,
            RegisterKind::Locations => LocationDraft::COLUMNS,
            RegisterKind::Departments => DepartmentDraft::COLUMNS,
            RegisterKind::Inspectors => InspectorDraft::COLUMNS,
        }
    }
    /// Columns a list may be sorted by.
    pub fn sortable(self) -> &'static [&'static str] {
        match self {
            RegisterKind::Enterprises => &["uscc", "name", "industry", "entity_type", "street", "status", "updated_at"],
            RegisterKind::Products => &["gtin", "name", "brand", "category", "updated_at"],
            RegisterKind::Locations => &["gln", "name", "kind", "street", "updated_at"],
            RegisterKind::Departments => &["code", "name"],
            RegisterKind::Inspectors => &["name", "certificate_no", "department_code"],
        }
    }
    /// Columns a list may be filtered on by exact value.
    pub fn filterable(self) -> &'static [&'static str] {
        match self {
            RegisterKind::Enterprises => &["industry", "entity_type", "status", "street", "grid"],
            RegisterKind::Products => &["category", "owner_uscc"],
            RegisterKind::Locations => &["kind", "street", "grid", "owner_uscc"],
            RegisterKind::Departments => &[],
            RegisterKind::Inspectors => &["department_code"],
        }
    }
    fn select_sql(self) -> &'static str {
        match self {
            RegisterKind::Enterprises => "SELECT r.* FROM market_entities r",
            RegisterKind::Products => {
                "SELECT r.*, e.uscc AS owner_uscc, e.name AS owner_name FROM products r LEFT JOIN market_entities e ON e.id = r.owner_entity_id"
            }
            RegisterKind::Locations => {
                "SELECT r.*, e.uscc AS owner_uscc, e.name AS owner_name FROM locations r LEFT JOIN market_entities e ON e.id = r.owner_entity_id"
            }
            RegisterKind::Departments => "SELECT r.* FROM departments r",
            RegisterKind::Inspectors => {
                "SELECT r.*, d.code AS department_code, d.name AS department_name FROM inspectors r JOIN departments d ON d.id = r.department_id"
            }
        }
    }
    /// SQL expression of a sortable/filterable column.
    fn column_sql(self, col: &str) -> String {
        match col {
            "owner_uscc" => "e.uscc".into(),
            "department_code" => "d.code".into(),
            c => format!("r.{c}"),
        }
    }
    fn search_sql(self) -> &'static str {
        match self {
            RegisterKind::Enterprises => {
                "(LOWER(r.name) LIKE $1 OR LOWER(r.uscc) LIKE $1 OR LOWER(COALESCE(r.address, '')) LIKE $1)"
            }
            RegisterKind::Products => {
                "(LOWER(r.name) LIKE $1 OR r.gtin LIKE $1 OR LOWER(COALESCE(r.brand, '')) LIKE $1)"
            }
            RegisterKind::Locations => {
                "(LOWER(r.name) LIKE $1 OR r.gln LIKE $1 OR LOWER(COALESCE(r.address, '')) LIKE $1)"
            }
            RegisterKind::Departments => "(LOWER(r.name) LIKE $1 OR LOWER(r.code) LIKE $1)",
            RegisterKind::Inspectors => "(LOWER(r.name) LIKE $1 OR LOWER(r.certificate_no) LIKE $1)",
        }
    }
    /// The column holding the owning entity, for enterprise-scoped lists.
    fn owner_sql(self) -> Option<&'static str> {
        match self {
            RegisterKind::Enterprises => Some("r.id"),
            RegisterKind::Products | RegisterKind::Locations => Some("r.owner_entity_id"),
            _ => None,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortDir {
    #[default]
    Asc,
    Desc,
}

/// Search, filter, sort and page a register. Unknown sort or filter columns are
/// refused by the caller (the web layer checks them against [`RegisterKind`]).
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub q: Option<String>,
    pub filters: Vec<(String, String)>,
    pub sort: Option<String>,
    pub dir: SortDir,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
    /// Restrict to records owned by this entity (enterprise accounts).
    pub owner_entity_id: Option<i64>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self { q: None, filters: vec![], sort: None, dir: SortDir::Asc, page: 1, per_page: 50, owner_entity_id: None }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// 市场主体: a market entity of the register.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MarketEntity {
    pub id: i64,
    /// Unified social credit code (GB 32100-2015).
    #[schema(example = "91120116MA05K1TQ3X")]
    pub uscc: String,
    pub name: String,
    pub entity_type: String,
    pub industry: String,
    pub address: Option<String>,
    pub street: Option<String>,
    pub grid: Option<String>,
    pub legal_representative: Option<String>,
    pub licences: Vec<String>,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A product identified by its GTIN.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Product {
    pub id: i64,
    pub gtin: String,
    pub name: String,
    pub brand: Option<String>,
    pub specification: Option<String>,
    pub category: Option<String>,
    pub owner_entity_id: Option<i64>,
    pub owner_uscc: Option<String>,
    pub owner_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A location identified by its GLN.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Location {
    pub id: i64,
    pub gln: String,
    pub name: String,
    pub kind: String,
    pub address: Option<String>,
    pub street: Option<String>,
    pub grid: Option<String>,
    pub owner_entity_id: Option<i64>,
    pub owner_uscc: Option<String>,
    pub owner_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A department / responsible unit (责任单位).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An inspector of the inspector directory.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Inspector {
    pub id: i64,
    pub name: String,
    pub department_id: i64,
    pub department_code: String,
    pub department_name: String,
    pub certificate_no: String,
    pub specialties: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn json_list(row: &AnyRow, col: &str) -> Result<Vec<String>> {
    let s: String = row.try_get(col)?;
    Ok(serde_json::from_str(&s).unwrap_or_default())
}

/// How one register maps to SQL. Implemented by each record type; the web layer and
/// the CLI use the generic [`Store::create`], [`Store::update`], [`Store::get`],
/// [`Store::list`] and [`Store::import`] through it.
#[allow(async_fn_in_trait)]
pub trait Register: Sized + Serialize + Send {
    type Draft: Serialize + Sync;
    const KIND: RegisterKind;
    /// Name of the unique business key column and its value in a draft.
    const KEY: &'static str;
    fn key(d: &Self::Draft) -> String;
    /// Parse a draft from named text fields (API body, form, import row).
    fn parse_draft(f: &impl Fields) -> Result<Self::Draft, FieldErrors>;
    /// The market entity that owns this record, if any (an entity owns itself).
    fn owner(&self) -> Option<i64>;
    /// Make `uscc` the owner of a draft; `false` if this register has no owner.
    fn force_owner(d: &mut Self::Draft, uscc: &UnifiedCreditCode) -> bool;
    fn from_row(row: &AnyRow) -> Result<Self>;
    /// Check references (owner entity, department) and return field errors.
    async fn resolve(tx: &mut Transaction<'static, Any>, d: &Self::Draft) -> Result<Result<Refs, FieldErrors>>;
    async fn insert(tx: &mut Transaction<'static, Any>, d: &Self::Draft, refs: &Refs) -> Result<i64>;
    async fn update(tx: &mut Transaction<'static, Any>, id: i64, d: &Self::Draft, refs: &Refs) -> Result<()>;
}

/// Resolved foreign keys of a draft.
#[derive(Debug, Default, Clone, Copy)]
pub struct Refs {
    owner: Option<i64>,
    department: Option<i64>,
}

async fn entity_id_of(tx: &mut Transaction<'static, Any>, uscc: &UnifiedCreditCode) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM market_entities WHERE uscc = $1")
        .bind(uscc.as_str())
        .fetch_optional(&mut **tx)
        .await?)
}

async fn owner_ref(
    tx: &mut Transaction<'static, Any>,
    owner: &Option<UnifiedCreditCode>,
) -> Result<Result<Refs, FieldErrors>> {
    let Some(uscc) = owner else { return Ok(Ok(Refs::default())) };
    match entity_id_of(tx, uscc).await? {
        Some(id) => Ok(Ok(Refs { owner: Some(id), department: None })),
        None => {
            let mut e = FieldErrors::new();
            e.push("owner_uscc", "unknown-entity", format!("no market entity with credit code {uscc} is registered"));
            Ok(Err(e))
        }
    }
}

impl Register for MarketEntity {
    type Draft = MarketEntityDraft;
    fn parse_draft(f: &impl Fields) -> Result<MarketEntityDraft, FieldErrors> {
        MarketEntityDraft::parse(f)
    }
    fn owner(&self) -> Option<i64> {
        Some(self.id)
    }
    fn force_owner(_: &mut MarketEntityDraft, _: &UnifiedCreditCode) -> bool {
        false
    }
    const KIND: RegisterKind = RegisterKind::Enterprises;
    const KEY: &'static str = "uscc";
    fn key(d: &MarketEntityDraft) -> String {
        d.uscc.to_string()
    }
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            uscc: row.try_get("uscc")?,
            name: row.try_get("name")?,
            entity_type: row.try_get("entity_type")?,
            industry: row.try_get("industry")?,
            address: row.try_get("address")?,
            street: row.try_get("street")?,
            grid: row.try_get("grid")?,
            legal_representative: row.try_get("legal_representative")?,
            licences: json_list(row, "licences")?,
            status: row.try_get("status")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
    async fn resolve(_: &mut Transaction<'static, Any>, _: &MarketEntityDraft) -> Result<Result<Refs, FieldErrors>> {
        Ok(Ok(Refs::default()))
    }
    async fn insert(tx: &mut Transaction<'static, Any>, d: &MarketEntityDraft, _: &Refs) -> Result<i64> {
        let t = now();
        Ok(sqlx::query_scalar(
            "INSERT INTO market_entities (uscc, name, entity_type, industry, address, street, grid, legal_representative, licences, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(d.uscc.as_str())
        .bind(&d.name)
        .bind(d.entity_type.key())
        .bind(d.industry.key())
        .bind(&d.address)
        .bind(&d.street)
        .bind(&d.grid)
        .bind(&d.legal_representative)
        .bind(serde_json::to_string(&d.licences).unwrap_or_default())
        .bind(d.status.key())
        .bind(&t)
        .fetch_one(&mut **tx)
        .await?)
    }
    async fn update(tx: &mut Transaction<'static, Any>, id: i64, d: &MarketEntityDraft, _: &Refs) -> Result<()> {
        sqlx::query(
            "UPDATE market_entities SET uscc = $1, name = $2, entity_type = $3, industry = $4, address = $5, street = $6, \
             grid = $7, legal_representative = $8, licences = $9, status = $10, updated_at = $11 WHERE id = $12",
        )
        .bind(d.uscc.as_str())
        .bind(&d.name)
        .bind(d.entity_type.key())
        .bind(d.industry.key())
        .bind(&d.address)
        .bind(&d.street)
        .bind(&d.grid)
        .bind(&d.legal_representative)
        .bind(serde_json::to_string(&d.licences).unwrap_or_default())
        .bind(d.status.key())
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Register for Product {
    type Draft = ProductDraft;
    fn parse_draft(f: &impl Fields) -> Result<ProductDraft, FieldErrors> {
        ProductDraft::parse(f)
    }
    fn owner(&self) -> Option<i64> {
        self.owner_entity_id
    }
    fn force_owner(d: &mut ProductDraft, uscc: &UnifiedCreditCode) -> bool {
        d.owner_uscc = Some(uscc.clone());
        true
    }
    const KIND: RegisterKind = RegisterKind::Products;
    const KEY: &'static str = "gtin";
    fn key(d: &ProductDraft) -> String {
        d.gtin.to_string()
    }
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            gtin: row.try_get("gtin")?,
            name: row.try_get("name")?,
            brand: row.try_get("brand")?,
            specification: row.try_get("specification")?,
            category: row.try_get("category")?,
            owner_entity_id: row.try_get("owner_entity_id")?,
            owner_uscc: row.try_get("owner_uscc")?,
            owner_name: row.try_get("owner_name")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
    async fn resolve(tx: &mut Transaction<'static, Any>, d: &ProductDraft) -> Result<Result<Refs, FieldErrors>> {
        owner_ref(tx, &d.owner_uscc).await
    }
    async fn insert(tx: &mut Transaction<'static, Any>, d: &ProductDraft, refs: &Refs) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO products (gtin, name, brand, specification, category, owner_entity_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(d.gtin.as_str())
        .bind(&d.name)
        .bind(&d.brand)
        .bind(&d.specification)
        .bind(&d.category)
        .bind(refs.owner)
        .bind(now())
        .fetch_one(&mut **tx)
        .await?)
    }
    async fn update(tx: &mut Transaction<'static, Any>, id: i64, d: &ProductDraft, refs: &Refs) -> Result<()> {
        sqlx::query(
            "UPDATE products SET gtin = $1, name = $2, brand = $3, specification = $4, category = $5, owner_entity_id = $6, \
             updated_at = $7 WHERE id = $8",
        )
        .bind(d.gtin.as_str())
        .bind(&d.name)
        .bind(&d.brand)
        .bind(&d.specification)
        .bind(&d.category)
        .bind(refs.owner)
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Register for Location {
    type Draft = LocationDraft;
    fn parse_draft(f: &impl Fields) -> Result<LocationDraft, FieldErrors> {
        LocationDraft::parse(f)
    }
    fn owner(&self) -> Option<i64> {
        self.owner_entity_id
    }
    fn force_owner(d: &mut LocationDraft, uscc: &UnifiedCreditCode) -> bool {
        d.owner_uscc = Some(uscc.clone());
        true
    }
    const KIND: RegisterKind = RegisterKind::Locations;
    const KEY: &'static str = "gln";
    fn key(d: &LocationDraft) -> String {
        d.gln.to_string()
    }
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            gln: row.try_get("gln")?,
            name: row.try_get("name")?,
            kind: row.try_get("kind")?,
            address: row.try_get("address")?,
            street: row.try_get("street")?,
            grid: row.try_get("grid")?,
            owner_entity_id: row.try_get("owner_entity_id")?,
            owner_uscc: row.try_get("owner_uscc")?,
            owner_name: row.try_get("owner_name")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
    async fn resolve(tx: &mut Transaction<'static, Any>, d: &LocationDraft) -> Result<Result<Refs, FieldErrors>> {
        owner_ref(tx, &d.owner_uscc).await
    }
    async fn insert(tx: &mut Transaction<'static, Any>, d: &LocationDraft, refs: &Refs) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO locations (gln, name, kind, address, street, grid, owner_entity_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(d.gln.as_str())
        .bind(&d.name)
        .bind(d.kind.key())
        .bind(&d.address)
        .bind(&d.street)
        .bind(&d.grid)
        .bind(refs.owner)
        .bind(now())
        .fetch_one(&mut **tx)
        .await?)
    }
    async fn update(tx: &mut Transaction<'static, Any>, id: i64, d: &LocationDraft, refs: &Refs) -> Result<()> {
        sqlx::query(
            "UPDATE locations SET gln = $1, name = $2, kind = $3, address = $4, street = $5, grid = $6, owner_entity_id = $7, \
             updated_at = $8 WHERE id = $9",
        )
        .bind(d.gln.as_str())
        .bind(&d.name)
        .bind(d.kind.key())
        .bind(&d.address)
        .bind(&d.street)
        .bind(&d.grid)
        .bind(refs.owner)
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Register for Department {
    type Draft = DepartmentDraft;
    fn parse_draft(f: &impl Fields) -> Result<DepartmentDraft, FieldErrors> {
        DepartmentDraft::parse(f)
    }
    fn owner(&self) -> Option<i64> {
        None
    }
    fn force_owner(_: &mut DepartmentDraft, _: &UnifiedCreditCode) -> bool {
        false
    }
    const KIND: RegisterKind = RegisterKind::Departments;
    const KEY: &'static str = "code";
    fn key(d: &DepartmentDraft) -> String {
        d.code.clone()
    }
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            code: row.try_get("code")?,
            name: row.try_get("name")?,
            name_en: row.try_get("name_en")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
    async fn resolve(_: &mut Transaction<'static, Any>, _: &DepartmentDraft) -> Result<Result<Refs, FieldErrors>> {
        Ok(Ok(Refs::default()))
    }
    async fn insert(tx: &mut Transaction<'static, Any>, d: &DepartmentDraft, _: &Refs) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO departments (code, name, name_en, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(&d.code)
        .bind(&d.name)
        .bind(&d.name_en)
        .bind(now())
        .fetch_one(&mut **tx)
        .await?)
    }
    async fn update(tx: &mut Transaction<'static, Any>, id: i64, d: &DepartmentDraft, _: &Refs) -> Result<()> {
        sqlx::query("UPDATE departments SET code = $1, name = $2, name_en = $3, updated_at = $4 WHERE id = $5")
            .bind(&d.code)
            .bind(&d.name)
            .bind(&d.name_en)
            .bind(now())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl Register for Inspector {
    type Draft = InspectorDraft;
    fn parse_draft(f: &impl Fields) -> Result<InspectorDraft, FieldErrors> {
        InspectorDraft::parse(f)
    }
    fn owner(&self) -> Option<i64> {
        None
    }
    fn force_owner(_: &mut InspectorDraft, _: &UnifiedCreditCode) -> bool {
        false
    }
    const KIND: RegisterKind = RegisterKind::Inspectors;
    const KEY: &'static str = "certificate_no";
    fn key(d: &InspectorDraft) -> String {
        d.certificate_no.clone()
    }
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            department_id: row.try_get("department_id")?,
            department_code: row.try_get("department_code")?,
            department_name: row.try_get("department_name")?,
            certificate_no: row.try_get("certificate_no")?,
            specialties: json_list(row, "specialties")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
    async fn resolve(tx: &mut Transaction<'static, Any>, d: &InspectorDraft) -> Result<Result<Refs, FieldErrors>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
            .bind(&d.department_code)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(match id {
            Some(id) => Ok(Refs { owner: None, department: Some(id) }),
            None => {
                let mut e = FieldErrors::new();
                e.push(
                    "department_code",
                    "unknown-department",
                    format!("no department with code {:?}", d.department_code),
                );
                Err(e)
            }
        })
    }
    async fn insert(tx: &mut Transaction<'static, Any>, d: &InspectorDraft, refs: &Refs) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO inspectors (name, department_id, certificate_no, specialties, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&d.name)
        .bind(refs.department)
        .bind(&d.certificate_no)
        .bind(serde_json::to_string(&d.specialties).unwrap_or_default())
        .bind(now())
        .fetch_one(&mut **tx)
        .await?)
    }
    async fn update(tx: &mut Transaction<'static, Any>, id: i64, d: &InspectorDraft, refs: &Refs) -> Result<()> {
        sqlx::query(
            "UPDATE inspectors SET name = $1, department_id = $2, certificate_no = $3, specialties = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&d.name)
        .bind(refs.department)
        .bind(&d.certificate_no)
        .bind(serde_json::to_string(&d.specialties).unwrap_or_default())
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// One bad row of an import: 1-based data row number (the header is row 1, so the
/// first data row is row 2, as a spreadsheet shows it), column and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub code: String,
    pub reason: String,
}

/// Result of an import.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub inserted: usize,
    /// Rows refused (only when invalid rows were skipped; otherwise nothing is stored).
    pub skipped: Vec<RowError>,
}

/// How an import treats bad rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    /// Any bad row refuses the whole file; nothing is stored.
    #[default]
    AllOrNothing,
    /// Store the good rows, report the bad ones.
    SkipInvalid,
}

fn table_of(kind: RegisterKind) -> &'static str {
    match kind {
        RegisterKind::Enterprises => "market_entities",
        RegisterKind::Products => "products",
        RegisterKind::Locations => "locations",
        RegisterKind::Departments => "departments",
        RegisterKind::Inspectors => "inspectors",
    }
}

async fn fetch_one<R: Register>(e: impl sqlx::Executor<'_, Database = Any>, id: i64) -> Result<R> {
    let row = sqlx::query(dyn_sql!("{} WHERE r.id = $1", R::KIND.select_sql()))
        .bind(id)
        .fetch_optional(e)
        .await?
        .ok_or(StoreError::NotFound)?;
    R::from_row(&row)
}

async fn key_owner(
    tx: &mut Transaction<'static, Any>,
    kind: RegisterKind,
    key_col: &str,
    key: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(dyn_sql!("SELECT id FROM {} WHERE {key_col} = $1", table_of(kind)))
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?)
}

/// Raises the registers' version in the writing transaction (see `Store::register_version`).
async fn raise_register_version(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<()> {
    sqlx::query("UPDATE register_version SET version = version + 1 WHERE id = 1").execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// The registers' version: raised by every committed write to any register, from any
    /// process, so a copy of the registers read at version `v` is current while this is `v`.
    pub async fn register_version(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT version FROM register_version WHERE id = 1").fetch_one(&self.pool).await?.try_get(0)?)
    }

    pub async fn create<R: Register>(&self, actor: &Actor, d: &R::Draft) -> Result<R> {
        let mut w = WriteTx::begin(self).await?;
        let key = R::key(d);
        if key_owner(&mut w.tx, R::KIND, R::KEY, &key).await?.is_some() {
            return Err(StoreError::Conflict { field: R::KEY, value: key });
        }
        let refs = R::resolve(&mut w.tx, d).await?.map_err(StoreError::Invalid)?;
        let id = R::insert(&mut w.tx, d, &refs).await?;
        let rec: R = fetch_one(&mut *w.tx, id).await?;
        w.audit(actor, &format!("{}.create", R::KIND.slug()), R::KIND.slug(), &id.to_string(), &(), &rec).await?;
        raise_register_version(&mut w.tx).await?;
        w.commit().await?;
        Ok(rec)
    }

    pub async fn update<R: Register>(&self, actor: &Actor, id: i64, d: &R::Draft) -> Result<R> {
        let mut w = WriteTx::begin(self).await?;
        let before: R = fetch_one(&mut *w.tx, id).await?;
        let key = R::key(d);
        if key_owner(&mut w.tx, R::KIND, R::KEY, &key).await?.is_some_and(|other| other != id) {
            return Err(StoreError::Conflict { field: R::KEY, value: key });
        }
        let refs = R::resolve(&mut w.tx, d).await?.map_err(StoreError::Invalid)?;
        R::update(&mut w.tx, id, d, &refs).await?;
        let after: R = fetch_one(&mut *w.tx, id).await?;
        w.audit(actor, &format!("{}.update", R::KIND.slug()), R::KIND.slug(), &id.to_string(), &before, &after).await?;
        raise_register_version(&mut w.tx).await?;
        w.commit().await?;
        Ok(after)
    }

    pub async fn get<R: Register>(&self, id: i64) -> Result<R> {
        fetch_one(&self.pool, id).await
    }

    pub async fn list<R: Register>(&self, q: &ListQuery) -> Result<Page<R>> {
        let kind = R::KIND;
        let mut wheres: Vec<String> = vec!["1 = 1".into()];
        let mut binds: Vec<String> = vec![];
        // $1 is always the search pattern (or a match-all), so the search SQL can use it.
        binds.push(format!("%{}%", q.q.as_deref().unwrap_or("").to_lowercase()));
        if q.q.as_deref().is_some_and(|s| !s.is_empty()) {
            wheres.push(kind.search_sql().into());
        }
        for (col, val) in &q.filters {
            if kind.filterable().contains(&col.as_str()) {
                binds.push(val.clone());
                wheres.push(format!("{} = ${}", kind.column_sql(col), binds.len()));
            }
        }
        let mut owner_bind = None;
        if let Some(owner) = q.owner_entity_id {
            match kind.owner_sql() {
                Some(col) => {
                    owner_bind = Some(owner);
                    wheres.push(format!("{col} = ${}", binds.len() + 1));
                }
                None => wheres.push("1 = 0".into()),
            }
        }
        let where_sql = wheres.join(" AND ");
        let sort = q.sort.as_deref().filter(|s| kind.sortable().contains(s)).map(|s| kind.column_sql(s));
        let dir = if q.dir == SortDir::Desc { "DESC" } else { "ASC" };
        let order = match sort {
            Some(col) => format!("{col} {dir}, r.id {dir}"),
            None => format!("r.id {dir}"),
        };
        let per_page = q.per_page.clamp(1, 500);
        let page = q.page.max(1);
        let from = kind.select_sql();
        let count_sql = format!("SELECT COUNT(*) FROM ({from} WHERE {where_sql}) c");
        let list_sql = format!(
            "{from} WHERE {where_sql} ORDER BY {order} LIMIT {per_page} OFFSET {}",
            (page as i64 - 1) * per_page as i64
        );
        let mut cq = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        let mut lq = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for b in &binds {
            cq = cq.bind(b.clone());
            lq = lq.bind(b.clone());
        }
        if let Some(o) = owner_bind {
            cq = cq.bind(o);
            lq = lq.bind(o);
        }
        let total = cq.fetch_one(&self.pool).await?;
        let rows = lq.fetch_all(&self.pool).await?;
        let items = rows.iter().map(R::from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, total, page, per_page })
    }

    /// Import drafts (row number, parsed draft or its field errors). All-or-nothing by
    /// default; `progress` is called with the number of rows handled so far.
    pub async fn import<R: Register>(
        &self,
        actor: &Actor,
        rows: Vec<(usize, Result<R::Draft, FieldErrors>)>,
        mode: ImportMode,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Result<ImportReport, Vec<RowError>>> {
        let mut w = WriteTx::begin(self).await?;
        let mut errors: Vec<RowError> = vec![];
        let mut seen = std::collections::HashMap::<String, usize>::new();
        let mut good: Vec<(usize, R::Draft, Refs)> = vec![];
        let row_err = |row: usize, e: &qgov_domain::FieldError| RowError {
            row,
            column: e.field.clone(),
            code: e.code.to_owned(),
            reason: e.message.clone(),
        };
        for (i, (row, parsed)) in rows.into_iter().enumerate() {
            let d = match parsed {
                Ok(d) => d,
                Err(fe) => {
                    errors.extend(fe.0.iter().map(|e| row_err(row, e)));
                    continue;
                }
            };
            let key = R::key(&d);
            if let Some(first) = seen.insert(key.clone(), row) {
                errors.push(RowError {
                    row,
                    column: R::KEY.into(),
                    code: "duplicate-in-file".into(),
                    reason: format!("{key} already appears in row {first}"),
                });
                continue;
            }
            if key_owner(&mut w.tx, R::KIND, R::KEY, &key).await?.is_some() {
                errors.push(RowError {
                    row,
                    column: R::KEY.into(),
                    code: "exists".into(),
                    reason: format!("{key} is already registered"),
                });
                continue;
            }
            match R::resolve(&mut w.tx, &d).await? {
                Ok(refs) => good.push((row, d, refs)),
                Err(fe) => errors.extend(fe.0.iter().map(|e| row_err(row, e))),
            }
            if i % 500 == 0 {
                progress(i);
            }
        }
        if !errors.is_empty() && mode == ImportMode::AllOrNothing {
            return Ok(Err(errors));
        }
        let mut keys = Vec::with_capacity(good.len());
        for (_, d, refs) in &good {
            R::insert(&mut w.tx, d, refs).await?;
            keys.push(R::key(d));
        }
        let inserted = keys.len();
        w.audit(
            actor,
            &format!("{}.import", R::KIND.slug()),
            R::KIND.slug(),
            "*",
            &(),
            &serde_json::json!({ "inserted": inserted, "keys": keys }),
        )
        .await?;
        raise_register_version(&mut w.tx).await?;
        w.commit().await?;
        progress(inserted + errors.len());
        Ok(Ok(ImportReport { inserted, skipped: errors }))
    }
}

/// Typed entry points per register (the generic machinery stays private).
macro_rules! register_api {
    ($rec:ty, $draft:ty, $create:ident, $update:ident, $get:ident, $list:ident, $import:ident) => {
        impl Store {
            pub async fn $create(&self, actor: &Actor, d: &$draft) -> Result<$rec> {
                self.create::<$rec>(actor, d).await
            }
            pub async fn $update(&self, actor: &Actor, id: i64, d: &$draft) -> Result<$rec> {
                self.update::<$rec>(actor, id, d).await
            }
            pub async fn $get(&self, id: i64) -> Result<$rec> {
                self.get::<$rec>(id).await
            }
            pub async fn $list(&self, q: &ListQuery) -> Result<Page<$rec>> {
                self.list::<$rec>(q).await
            }
            pub async fn $import(
                &self,
                actor: &Actor,
                rows: Vec<(usize, Result<$draft, FieldErrors>)>,
                mode: ImportMode,
                progress: &(dyn Fn(usize) + Sync),
            ) -> Result<Result<ImportReport, Vec<RowError>>> {
                self.import::<$rec>(actor, rows, mode, progress).await
            }
        }
    };
}

register_api!(MarketEntity, MarketEntityDraft, create_entity, update_entity, entity, list_entities, import_entities);
register_api!(Product, ProductDraft, create_product, update_product, product, list_products, import_products);
register_api!(Location, LocationDraft, create_location, update_location, location, list_locations, import_locations);
register_api!(
    Department,
    DepartmentDraft,
    create_department,
    update_department,
    department,
    list_departments,
    import_departments
);
register_api!(
    Inspector,
    InspectorDraft,
    create_inspector,
    update_inspector,
    inspector,
    list_inspectors,
    import_inspectors
);

impl Store {
    /// The market entity with this credit code.
    pub async fn entity_by_uscc(&self, uscc: &str) -> Result<MarketEntity> {
        let row = sqlx::query("SELECT r.* FROM market_entities r WHERE r.uscc = $1")
            .bind(uscc)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        MarketEntity::from_row(&row)
    }
    /// The department with this code.
    pub async fn department_by_code(&self, code: &str) -> Result<Department> {
        let row = sqlx::query("SELECT r.* FROM departments r WHERE r.code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Department::from_row(&row)
    }
}
