//! Message catalogues (Fluent, `locales/<lang>/main.ftl`): zh-CN by default, en-US as
//! the second language. Every user-visible string of the console and portal comes from
//! here; a test checks that both catalogues have the same keys.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use fluent_templates::{LanguageIdentifier, Loader};
use std::collections::HashMap;
use std::sync::LazyLock;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "zh-CN",
        // Fluent wraps arguments in Unicode isolation marks by default; HTML does not need them.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Name of the language cookie set by the language switch.
pub const LANG_COOKIE: &str = "qgov_lang";

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

static ZH: LazyLock<LanguageIdentifier> = LazyLock::new(|| "zh-CN".parse().expect("valid language id"));
static EN: LazyLock<LanguageIdentifier> = LazyLock::new(|| "en-US".parse().expect("valid language id"));

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" | "en-US" => Some(Lang::En),
            _ => None,
        }
    }
    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// Translator handed to templates: `{{ t.get("key") }}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }
    /// The message for `key`; a missing key shows as the key itself (and the catalogue
    /// test fails), never as an empty string.
    pub fn get(&self, key: &str) -> String {
        LOCALES.try_lookup(self.lang.id(), key).unwrap_or_else(|| key.to_owned())
    }
    /// The message for `key` with one named argument.
    pub fn arg(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        let mut args = HashMap::new();
        args.insert(
            std::borrow::Cow::Owned(name.to_owned()),
            fluent_templates::fluent_bundle::FluentValue::from(value.to_string()),
        );
        LOCALES.try_lookup_with_args(self.lang.id(), key, &args).unwrap_or_else(|| key.to_owned())
    }
    /// Label of a vocabulary value (`industry-food_production`), or the raw value.
    pub fn value(&self, prefix: &str, value: &str) -> String {
        let key = format!("{prefix}-{value}");
        LOCALES.try_lookup(self.lang.id(), &key).unwrap_or_else(|| value.to_owned())
    }
    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // zh-CN unless the visitor chose English with the switch: the platform serves a
        // Chinese district, so a browser's Accept-Language does not override it.
        let chosen = crate::auth::cookie(parts, LANG_COOKIE).and_then(Lang::parse);
        Ok(Tr::new(chosen.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with([' ', '#', '\t']) && l.contains('='))
            .map(|l| l.split('=').next().unwrap_or_default().trim().to_owned())
            .collect()
    }

    #[test]
    fn catalogues_have_the_same_keys() {
        let zh = keys(include_str!("../locales/zh-CN/main.ftl"));
        let en = keys(include_str!("../locales/en-US/main.ftl"));
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty() && only_en.is_empty(), "only in zh-CN: {only_zh:?}; only in en-US: {only_en:?}");
        assert!(zh.len() > 20);
    }

    #[test]
    fn lookups_in_both_languages() {
        assert_eq!(Tr::new(Lang::Zh).get("app-name"), "qgov 质量强区");
        assert_eq!(Tr::new(Lang::En).get("app-name"), "qgov Quality District");
        assert_eq!(Tr::new(Lang::En).get("no-such-key"), "no-such-key");
    }
}
