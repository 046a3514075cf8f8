//! How a plain-text message (a stakeholder update, a maintenance notice, an
//! email body) is laid out in HTML: paragraphs separated by blank lines keep
//! their line breaks, and lines starting with "- ", "* " or "• " (or "1. ",
//! "2) ") become a bulleted (or numbered) list. The text part of an email
//! keeps the text as typed; this only shapes the HTML, escaped by the template.

/// One block of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// Lines shown with line breaks between them.
    Paragraph(Vec<&'a str>),
    /// List items, in order.
    List { ordered: bool, items: Vec<&'a str> },
}

impl Block<'_> {
    /// "p", "ul" or "ol": the HTML element the block becomes.
    pub fn tag(&self) -> &'static str {
        match self {
            Block::Paragraph(_) => "p",
            Block::List { ordered: false, .. } => "ul",
            Block::List { ordered: true, .. } => "ol",
        }
    }

    /// The paragraph's lines, or the list's items.
    pub fn lines(&self) -> &[&str] {
        match self {
            Block::Paragraph(lines) => lines,
            Block::List { items, .. } => items,
        }
    }
}

/// The item's text when `line` is a list item, and whether the list is numbered.
fn item(line: &str) -> Option<(bool, &str)> {
    let t = line.trim_start();
    for marker in ["- ", "* ", "• "] {
        if let Some(rest) = t.strip_prefix(marker) {
            return Some((false, rest.trim()));
        }
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &t[digits..];
        if let Some(text) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some((true, text.trim()));
        }
    }
    None
}

/// The blocks of a message, in order; blank lines and surrounding spaces are dropped.
pub fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out: Vec<Block<'_>> = Vec::new();
    let mut open = false; // whether the last block may take the next line
    for line in text.lines() {
        if line.trim().is_empty() {
            open = false;
            continue;
        }
        match (item(line), out.last_mut()) {
            (Some((ordered, text)), Some(Block::List { ordered: o, items })) if *o == ordered => items.push(text),
            (Some((ordered, text)), _) => out.push(Block::List { ordered, items: vec![text] }),
            (None, Some(Block::Paragraph(lines))) if open => lines.push(line.trim()),
            (None, _) => out.push(Block::Paragraph(vec![line.trim()])),
        }
        open = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_their_line_breaks() {
        assert_eq!(
            blocks("Checkout fails.\nWe are on it.\n\nNext update at 19:30."),
            vec![
                Block::Paragraph(vec!["Checkout fails.", "We are on it."]),
                Block::Paragraph(vec!["Next update at 19:30."])
            ]
        );
    }

    #[test]
    fn dashes_stars_and_bullets_make_a_list_and_numbers_a_numbered_one() {
        assert_eq!(
            blocks("What we did:\n- rolled back\n* drained the queue\n• restarted workers\n1. check\n2) verify"),
            vec![
                Block::Paragraph(vec!["What we did:"]),
                Block::List { ordered: false, items: vec!["rolled back", "drained the queue", "restarted workers"] },
                Block::List { ordered: true, items: vec!["check", "verify"] },
            ]
        );
    }

    #[test]
    fn a_list_ends_at_a_plain_line_and_near_misses_stay_text() {
        assert_eq!(
            blocks("- one\nthen text\n-5 °C outside\n2026. A year."),
            vec![
                Block::List { ordered: false, items: vec!["one"] },
                Block::Paragraph(vec!["then text", "-5 °C outside", "2026. A year."]),
            ]
        );
        assert!(blocks("  \n\n").is_empty());
    }
}
