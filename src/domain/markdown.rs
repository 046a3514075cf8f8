//! Markdown for notes and documents, rendered to HTML and then cleaned by a
//! whitelist sanitiser: a `<script>`, an event handler or a `javascript:` link
//! in someone's note comes out inert.

use std::sync::OnceLock;

use pulldown_cmark::{Options, Parser, html};

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // No images: they would load from anywhere (tracking) and need alt text.
        // No added rel: an unsafe link loses its href and stays a plain, valid
        // `<a>` placeholder (a `rel` without `href` is invalid HTML).
        b.rm_tags(["img"]).url_schemes(["http", "https", "mailto"].into_iter().collect()).link_rel(None);
        b
    })
}

/// Renders Markdown to safe HTML.
pub fn to_safe_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_TASKLISTS);
    let parser = Parser::new_ext(markdown, options);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    cleaner().clean(&raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn markdown_becomes_html() {
        assert_eq!(to_safe_html("**db** is *down*"), "<p><strong>db</strong> is <em>down</em></p>\n");
    }

    #[test]
    fn scripts_and_handlers_are_removed() {
        let html = to_safe_html("<script>alert(1)</script><img src=x onerror=alert(2)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn javascript_links_lose_their_target() {
        let html = to_safe_html("[click](javascript:alert(1)) and <a href=\"javascript:alert(2)\">x</a>");
        assert!(!html.contains("javascript:"), "{html}");
        let ok = to_safe_html("[runbook](https://wiki.example.com/db)");
        assert!(ok.contains("href=\"https://wiki.example.com/db\""), "{ok}");
    }
}
