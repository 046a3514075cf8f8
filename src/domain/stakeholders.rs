//! Stakeholder group members as an admin types them: one person per line,
//! `Name <name@example.com>` or just `name@example.com`.

use super::EmailAddress;

/// Most members a group may have (each update is one email per member).
pub const MAX_MEMBERS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLine {
    pub name: String,
    pub email: EmailAddress,
}

impl MemberLine {
    /// The line as it is shown again in the textarea.
    pub fn to_line(&self) -> String {
        if self.name.is_empty() { self.email.to_string() } else { format!("{} <{}>", self.name, self.email) }
    }
}

fn parse_line(line: &str) -> Option<MemberLine> {
    let line = line.trim();
    let (name, address) = match line.strip_suffix('>').and_then(|rest| rest.rsplit_once('<')) {
        Some((name, address)) => (name.trim().trim_matches('"').trim(), address),
        None => ("", line),
    };
    if name.chars().count() > 100 || name.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return None;
    }
    let email = EmailAddress::parse(address).ok()?;
    Some(MemberLine { name: name.to_owned(), email })
}

/// "line 3", "lines 2 and 5", "lines 2, 5 and 9".
fn describe_lines(numbers: &[usize]) -> String {
    let n: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    match n.as_slice() {
        [one] => format!("line {one}"),
        [init @ .., last] => format!("lines {} and {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// Every member in the text, each address once (the first line wins); blank
/// lines are skipped. Refuses the whole text naming every line that is not a
/// person.
pub fn parse_members(text: &str) -> Result<Vec<MemberLine>, String> {
    let mut members: Vec<MemberLine> = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(m) => {
                if !members.iter().any(|seen| seen.email == m.email) {
                    members.push(m);
                }
            }
            None => bad.push(i + 1),
        }
    }
    if !bad.is_empty() {
        let shown: Vec<usize> = bad.iter().copied().take(10).collect();
        let more = if bad.len() > shown.len() { format!(" (and {} more)", bad.len() - shown.len()) } else { "".into() };
        return Err(format!(
            "Check {}{more}: write one person per line, as Name <name@example.com> or name@example.com.",
            describe_lines(&shown)
        ));
    }
    if members.len() > MAX_MEMBERS {
        return Err(format!("A group can have at most {MAX_MEMBERS} members."));
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bare_addresses_are_both_accepted() {
        let members =
            parse_members("Ada Lovelace <Ada@Example.com>\n\n  bob@example.com \n\"Grace H\" <grace@example.com>\n")
                .expect("valid");
        let lines: Vec<String> = members.iter().map(MemberLine::to_line).collect();
        assert_eq!(lines, ["Ada Lovelace <ada@example.com>", "bob@example.com", "Grace H <grace@example.com>"]);
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let err = parse_members("ok@example.com\nnot an address\nAda <ada@example.com>\nBob <bob@>\n")
            .expect_err("two bad lines");
        assert!(err.contains("lines 2 and 4"), "{err}");
        let err = parse_members("a@b.co\nx").expect_err("one bad line");
        assert!(err.contains("line 2:"), "{err}");
    }

    #[test]
    fn an_address_is_listed_once() {
        let members = parse_members("Ada <ada@example.com>\nADA@example.com").expect("valid");
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].name, "Ada");
    }

    #[test]
    fn an_empty_list_is_allowed() {
        assert_eq!(parse_members(" \n "), Ok(Vec::new()));
    }
}
