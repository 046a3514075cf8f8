//! The code's shape, checked: dependencies point one way
//! (`web -> services -> db, email -> domain`), and no services file grows
//! past what one person reads in one go.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn src(part: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(part)
}

/// The lines of a file that are code (not comments), with their numbers.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("a readable source file");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

/// Whether `line` names the path `word` itself (`crate::web`, not `crate::webhooks`).
fn names(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let next = line[at + word.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn offenders(dirs: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for dir in dirs {
        let root = src(dir);
        let files = if root.is_dir() { rust_files(&root) } else { vec![root.with_extension("rs")] };
        for file in files {
            for (n, line) in code_lines(&file) {
                if let Some(word) = forbidden.iter().find(|w| names(&line, w)) {
                    found.push(format!("{}:{n} uses {word}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_domain_knows_neither_diesel_nor_actix() {
    let found = offenders(&["domain"], &["diesel", "actix", "askama_web"]);
    assert!(found.is_empty(), "domain/ must stay plain Rust:\n{}", found.join("\n"));
}

#[test]
fn nothing_below_web_knows_web_or_startup() {
    let found = offenders(
        &["domain", "db", "services", "email", "status", "queue"],
        &["crate::web", "crate::startup", "super::web", "super::startup"],
    );
    assert!(found.is_empty(), "dependencies point one way (web -> services -> db -> domain):\n{}", found.join("\n"));
}

#[test]
fn no_services_file_passes_700_lines() {
    let long: Vec<String> = rust_files(&src("services"))
        .into_iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(&f).expect("readable").lines().count();
            (lines > 700).then(|| format!("{} has {lines} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these the way their concern is laid out:\n{}", long.join("\n"));
}

/// Every `.route("PATH", web::METHOD()...)` in the code (outside its tests),
/// as "METHOD PATH".
fn routes_in_code() -> Vec<String> {
    let mut out = Vec::new();
    for path in rust_files(&src("")) {
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in code.match_indices(".route(") {
            let rest = code[at + ".route(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else { continue };
            let Some(end) = rest.find('"') else { continue };
            let route = &rest[..end];
            let after = rest[end + 1..].trim_start().trim_start_matches(',').trim_start();
            let Some(method) = after.strip_prefix("web::").and_then(|m| m.split('(').next()) else { continue };
            out.push(format!("{} {route}", method.to_uppercase()));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_readme_lists_every_route() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let section = readme.split("## Every route").nth(1).expect("README.md has a section “Every route”");
    let routes = routes_in_code();
    assert!(routes.len() > 100, "the routes are found in the code: {routes:?}");
    let missing: Vec<&String> = routes.iter().filter(|r| !section.contains(&format!("`{r}`"))).collect();
    assert!(missing.is_empty(), "add these to README.md's “Every route”: {missing:#?}");
}
