//! Pure helpers for console URLs: redirect-target sanitising, percent-encoding, and the
//! search / filter / sort / page state of a list with the links that change it.

use qgov_store::{ListQuery, SortDir};
use std::collections::HashMap;

/// `back` when it is a path on this site (`/…`), otherwise `/`. Protects the language
/// switch and the login `next` from sending visitors to another site: `//host`,
/// `/\host`, schemes and control characters are refused.
pub fn safe_back(back: &str) -> &str {
    let ok = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && back.len() <= 2000
        && !back.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok { back } else { "/" }
}

/// Percent-encode a query-string component (everything but RFC 3986 unreserved).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base?k=v&…` from the pairs whose value is not empty (just `base` if none is left).
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> =
        pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    if q.is_empty() { base.to_owned() } else { format!("{base}?{}", q.join("&")) }
}

/// Rows per page of console lists.
pub const PER_PAGE: u32 = 25;

/// What a list shows: search text, exact-value filters, sort and page. Parsed leniently
/// from the query string (a console link must never fail: unknown sort columns and
/// parameters are ignored), and turned back into links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListState {
    pub q: String,
    /// Filter column and value, in the register's filter order, only non-empty values.
    pub filters: Vec<(String, String)>,
    pub sort: Option<String>,
    pub desc: bool,
    pub page: u32,
}

impl ListState {
    pub fn parse(params: &HashMap<String, String>, sortable: &[&str], filterable: &[&str]) -> Self {
        let get = |k: &str| params.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        let filters = filterable
            .iter()
            .filter_map(|c| Some(get(c)).filter(|v| !v.is_empty()).map(|v| ((*c).to_owned(), v)))
            .collect();
        let sort = Some(get("sort")).filter(|s| sortable.contains(&s.as_str()));
        let page = get("page").parse::<u32>().ok().filter(|p| *p >= 1).unwrap_or(1);
        Self { q: get("q"), filters, sort, desc: get("dir") == "desc", page }
    }

    /// The store query for this state (one page of [`PER_PAGE`] rows).
    pub fn query(&self, owner_entity_id: Option<i64>) -> ListQuery {
        ListQuery {
            q: Some(self.q.clone()).filter(|q| !q.is_empty()),
            filters: self.filters.clone(),
            sort: self.sort.clone(),
            dir: if self.desc { SortDir::Desc } else { SortDir::Asc },
            page: self.page,
            per_page: PER_PAGE,
            owner_entity_id,
        }
    }

    pub fn filter(&self, column: &str) -> &str {
        self.filters.iter().find(|(c, _)| c == column).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    fn pairs(&self, sort: Option<&str>, desc: bool, page: u32) -> Vec<(String, String)> {
        let mut p = vec![("q".to_owned(), self.q.clone())];
        p.extend(self.filters.iter().cloned());
        if let Some(s) = sort {
            p.push(("sort".into(), s.to_owned()));
            if desc {
                p.push(("dir".into(), "desc".into()));
            }
        }
        if page > 1 {
            p.push(("page".into(), page.to_string()));
        }
        p
    }

    fn link(base: &str, pairs: &[(String, String)]) -> String {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        with_query(base, &refs)
    }

    /// Link that sorts by `column`: ascending first, a second click descending; back to page 1.
    pub fn sort_href(&self, base: &str, column: &str) -> String {
        let desc = self.sort.as_deref() == Some(column) && !self.desc;
        Self::link(base, &self.pairs(Some(column), desc, 1))
    }

    /// `Some(true)` when sorted by `column` descending, `Some(false)` ascending.
    pub fn sorted(&self, column: &str) -> Option<bool> {
        (self.sort.as_deref() == Some(column)).then_some(self.desc)
    }

    pub fn page_href(&self, base: &str, page: u32) -> String {
        Self::link(base, &self.pairs(self.sort.as_deref(), self.desc, page))
    }

    /// Same search, filters and sort, every page, as a file.
    pub fn export_href(&self, base: &str, format: &str) -> String {
        let mut p = self.pairs(self.sort.as_deref(), self.desc, 1);
        p.push(("format".into(), format.into()));
        Self::link(base, &p)
    }
}

/// Page numbers of a list: total pages (at least 1) for `total` rows.
pub fn page_count(total: i64, per_page: u32) -> u32 {
    let per = i64::from(per_page.max(1));
    u32::try_from(((total.max(0) + per - 1) / per).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn back_paths_stay_on_this_site() {
        assert_eq!(safe_back("/console/enterprises?q=a"), "/console/enterprises?q=a");
        assert_eq!(safe_back("/"), "/");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "",
            "/a\nb",
            "/a b",
            "evil",
        ] {
            assert_eq!(safe_back(bad), "/", "{bad:?} must be refused");
        }
    }

    #[test]
    fn encoding_and_query_building() {
        assert_eq!(enc("食品 a&b=c/d"), "%E9%A3%9F%E5%93%81%20a%26b%3Dc%2Fd");
        assert_eq!(with_query("/x", &[("q", ""), ("page", "2")]), "/x?page=2");
        assert_eq!(with_query("/x", &[("q", "")]), "/x");
    }

    #[test]
    fn list_state_is_lenient_and_keeps_filter_order() {
        let s = ListState::parse(
            &params(&[
                ("status", "active"),
                ("industry", "catering"),
                ("sort", "password"),
                ("page", "0"),
                ("bogus", "1"),
            ]),
            &["name"],
            &["industry", "status"],
        );
        assert_eq!(s.filters, vec![("industry".into(), "catering".into()), ("status".into(), "active".into())]);
        assert_eq!(s.sort, None, "an unknown sort column is ignored");
        assert_eq!(s.page, 1);
        assert_eq!(s.filter("status"), "active");
        assert_eq!(s.query(Some(7)).owner_entity_id, Some(7));
    }

    #[test]
    fn sort_links_toggle_direction_and_reset_the_page() {
        let s = ListState::parse(&params(&[("q", "滨海"), ("sort", "name"), ("page", "3")]), &["name", "uscc"], &[]);
        assert_eq!(s.sort_href("/l", "name"), "/l?q=%E6%BB%A8%E6%B5%B7&sort=name&dir=desc");
        assert_eq!(s.sort_href("/l", "uscc"), "/l?q=%E6%BB%A8%E6%B5%B7&sort=uscc");
        assert_eq!(s.sorted("name"), Some(false));
        assert_eq!(s.sorted("uscc"), None);
        let d = ListState::parse(&params(&[("sort", "name"), ("dir", "desc")]), &["name"], &[]);
        assert_eq!(d.sort_href("/l", "name"), "/l?sort=name");
    }

    #[test]
    fn page_and_export_links_keep_the_filters() {
        let s = ListState::parse(
            &params(&[("industry", "catering"), ("sort", "name"), ("dir", "desc")]),
            &["name"],
            &["industry"],
        );
        assert_eq!(s.page_href("/l", 2), "/l?industry=catering&sort=name&dir=desc&page=2");
        assert_eq!(s.page_href("/l", 1), "/l?industry=catering&sort=name&dir=desc");
        assert_eq!(s.export_href("/l/export", "xlsx"), "/l/export?industry=catering&sort=name&dir=desc&format=xlsx");
    }

    #[test]
    fn page_counts() {
        assert_eq!(page_count(0, 25), 1);
        assert_eq!(page_count(25, 25), 1);
        assert_eq!(page_count(26, 25), 2);
    }
}
