//! View models shared by the list and form pages: sortable column headers, filter
//! controls, the pager and form fields with their inline errors.

use super::links::{ListState, page_count};
use crate::i18n::Tr;
use qgov_domain::FieldErrors;

/// A column header; `href` is set when the column is sortable.
#[derive(Debug, Clone)]
pub struct HeaderCell {
    pub label: String,
    pub href: Option<String>,
    /// `asc`, `desc` or empty (for `aria-sort` and the arrow).
    pub sorted: &'static str,
}

impl HeaderCell {
    pub fn new(t: Tr, state: &ListState, base: &str, column: &str, sortable: bool) -> Self {
        Self {
            label: t.get(&format!("field-{column}")),
            href: sortable.then(|| state.sort_href(base, column)),
            sorted: match state.sorted(column) {
                Some(true) => "desc",
                Some(false) => "asc",
                None => "",
            },
        }
    }
    pub fn aria_sort(&self) -> &'static str {
        match self.sorted {
            "asc" => "ascending",
            "desc" => "descending",
            _ => "none",
        }
    }
}

/// One filter of a list: a select when `options` is not empty, else a text box.
#[derive(Debug, Clone)]
pub struct FilterControl {
    pub name: String,
    pub label: String,
    pub value: String,
    /// (value, label, selected); the first is "all".
    pub options: Vec<(String, String, bool)>,
}

impl FilterControl {
    /// A select over values with labels.
    pub fn select(t: Tr, name: &str, values: Vec<(String, String)>, current: &str) -> Self {
        let mut options = vec![(String::new(), t.get("filter-all"), current.is_empty())];
        options.extend(values.into_iter().map(|(v, l)| {
            let selected = v == current;
            (v, l, selected)
        }));
        Self { name: name.to_owned(), label: t.get(&format!("field-{name}")), value: current.to_owned(), options }
    }
    /// A select over a vocabulary whose labels are `<name>-<key>`.
    pub fn vocab(t: Tr, name: &str, keys: &[&'static str], current: &str) -> Self {
        Self::select(t, name, keys.iter().map(|k| ((*k).to_owned(), t.value(name, k))).collect(), current)
    }
    pub fn text(t: Tr, name: &str, current: &str) -> Self {
        Self {
            name: name.to_owned(),
            label: t.get(&format!("field-{name}")),
            value: current.to_owned(),
            options: vec![],
        }
    }
}

/// Previous / next links and "page 2 of 7 (160 records)".
#[derive(Debug, Clone)]
pub struct Pager {
    pub summary: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new(t: Tr, state: &ListState, base: &str, total: i64, per_page: u32) -> Self {
        let pages = page_count(total, per_page);
        let page = state.page.min(pages.max(1));
        let summary = format!(
            "{} {} · {}",
            t.arg("pager-page", "page", page),
            t.arg("pager-pages", "pages", pages),
            t.arg("pager-total", "total", total)
        );
        Self {
            summary,
            prev: (page > 1).then(|| state.page_href(base, page - 1)),
            next: (page < pages).then(|| state.page_href(base, page + 1)),
        }
    }
}

/// How a form field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Text,
    Select,
    Password,
}

/// One field of a form, with the value to show and its error, if any.
#[derive(Debug, Clone)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub kind: InputKind,
    pub value: String,
    /// (value, label) for selects.
    pub options: Vec<(String, String)>,
    pub required: bool,
    pub maxlength: Option<u32>,
    pub pattern: Option<&'static str>,
    pub hint: Option<String>,
    /// Translated message and the English detail behind it.
    pub error: Option<(String, String)>,
}

impl FieldView {
    pub fn text(t: Tr, name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            label: t.get(&format!("field-{name}")),
            kind: InputKind::Text,
            value: value.to_owned(),
            options: vec![],
            required: false,
            maxlength: None,
            pattern: None,
            hint: None,
            error: None,
        }
    }
    pub fn is_select(&self) -> bool {
        self.kind == InputKind::Select
    }
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            InputKind::Password => "password",
            _ => "text",
        }
    }
    pub fn maxlength_attr(&self) -> String {
        self.maxlength.map(|n| n.to_string()).unwrap_or_default()
    }
    pub fn pattern_attr(&self) -> &'static str {
        self.pattern.unwrap_or("")
    }
    /// Attach the first error of this field from `errors`.
    pub fn with_errors(mut self, t: Tr, errors: &FieldErrors) -> Self {
        if let Some(e) = errors.get(&self.name) {
            self.error = Some(error_text(t, e.code, &e.message));
        }
        self
    }
}

/// The translated message of an error code (`err-<code>`) and the English detail; the
/// detail stands in when the catalogue has no message for the code.
pub fn error_text(t: Tr, code: &str, detail: &str) -> (String, String) {
    let key = format!("err-{code}");
    let msg = t.get(&key);
    if msg == key { (detail.to_owned(), String::new()) } else { (msg, detail.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use std::collections::HashMap;

    #[test]
    fn pager_links_only_where_there_is_a_page() {
        let t = Tr::new(Lang::En);
        let p: HashMap<String, String> = [("page".to_string(), "2".to_string())].into();
        let s = ListState::parse(&p, &[], &[]);
        let pager = Pager::new(t, &s, "/l", 60, 25);
        assert_eq!(pager.prev.as_deref(), Some("/l"));
        assert_eq!(pager.next.as_deref(), Some("/l?page=3"));
        assert!(pager.summary.contains('3') && pager.summary.contains("60"), "{}", pager.summary);
        let last = Pager::new(t, &ListState::parse(&HashMap::new(), &[], &[]), "/l", 3, 25);
        assert!(last.prev.is_none() && last.next.is_none());
    }

    #[test]
    fn error_text_translates_codes_and_falls_back_to_the_detail() {
        let zh = Tr::new(Lang::Zh);
        let (msg, detail) = error_text(zh, "id-check", "the check character (last position) should be 'X'");
        assert!(!msg.contains("err-"), "{msg}");
        assert!(detail.contains("'X'"));
        let (msg, _) = error_text(zh, "no-such-code", "plain English");
        assert_eq!(msg, "plain English");
    }
}
