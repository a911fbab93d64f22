//! `cargo xtask docs`: the book (mdBook) and the API docs (rustdoc) in one site folder, with
//! the book's links checked.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The mdBook version CI installs when `mdbook` is missing.
const MDBOOK_VERSION: &str = "0.5.4";

pub(crate) fn docs() -> Result<(), String> {
    let root = crate::root();
    let site = root.join("target").join("site");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mdbook = ensure_mdbook(&cargo)?;

    let _ = std::fs::remove_dir_all(&site);
    let site_str = site
        .to_str()
        .ok_or("the target directory path is not UTF-8")?;
    crate::run(&mdbook, &["build", "docs", "--dest-dir", site_str])?;

    eprintln!(
        "xtask: running `cargo doc --workspace --no-deps --all-features` (warnings are errors)"
    );
    let status = Command::new(&cargo)
        .args([
            "doc",
            "--workspace",
            "--no-deps",
            "--all-features",
            "--locked",
        ])
        .env("RUSTDOCFLAGS", "-D warnings")
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run cargo doc: {e}"))?;
    if !status.success() {
        return Err(format!("cargo doc failed ({status})"));
    }
    copy_dir(&crate::target_dir().join("doc"), &site.join("api"))?;

    let broken = check_links(&site)?;
    if !broken.is_empty() {
        return Err(format!(
            "broken links in the book:\n  {}",
            broken.join("\n  ")
        ));
    }
    if let Some(page) = unexpanded_includes(&site)? {
        return Err(format!(
            "{page} has an {{{{#include}}}} that mdBook did not expand"
        ));
    }
    println!(
        "docs: site built in {} (open index.html); links checked",
        site.display()
    );
    Ok(())
}

/// `mdbook` on PATH (or in ~/.cargo/bin); installed with cargo if missing.
fn ensure_mdbook(cargo: &str) -> Result<String, String> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin").join("mdbook"));
    let found = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if found(Path::new("mdbook")) {
        return Ok("mdbook".into());
    }
    if let Some(p) = cargo_bin.as_ref().filter(|p| found(p)) {
        return Ok(p.display().to_string());
    }
    let args = ["install", "mdbook", "--locked", "--version", MDBOOK_VERSION];
    eprintln!(
        "xtask: mdbook is not installed; it builds the book (docs/). Installing it into \
         cargo's bin directory with `{cargo} {}`",
        args.join(" ")
    );
    crate::run(cargo, &args)?;
    cargo_bin
        .filter(|p| found(p))
        .map(|p| p.display().to_string())
        .ok_or_else(|| "cargo installed mdbook but it cannot be run".into())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The book's pages (the site's top-level `.html` files, not the API docs).
fn book_pages(site: &Path) -> Result<Vec<PathBuf>, String> {
    let mut pages = Vec::new();
    for entry in
        std::fs::read_dir(site).map_err(|e| format!("cannot read {}: {e}", site.display()))?
    {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "html") {
            pages.push(path);
        }
    }
    Ok(pages)
}

/// Relative `href`/`src` targets in the book's pages that do not exist in the site.
fn check_links(site: &Path) -> Result<Vec<String>, String> {
    let mut broken = Vec::new();
    for page in book_pages(site)? {
        let html = std::fs::read_to_string(&page)
            .map_err(|e| format!("cannot read {}: {e}", page.display()))?;
        for link in links(&html) {
            if link.is_empty()
                || link.starts_with('#')
                || link.contains("://")
                || link.starts_with("mailto:")
                || link.starts_with("javascript:")
            {
                continue;
            }
            let path = link.split(['#', '?']).next().unwrap_or("");
            if path.is_empty() {
                continue;
            }
            let dir = page.parent().unwrap_or(site);
            let target = dir.join(path);
            if !target.exists() {
                let name = page
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                broken.push(format!("{name}: {link}"));
            }
        }
    }
    broken.sort();
    broken.dedup();
    Ok(broken)
}

/// The values of `href="..."` and `src="..."` attributes.
fn links(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            if let Some(end) = rest.find('"') {
                out.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    out
}

fn unexpanded_includes(site: &Path) -> Result<Option<String>, String> {
    for page in book_pages(site)? {
        let html = std::fs::read_to_string(&page).map_err(|e| e.to_string())?;
        if html.contains("{{#include") {
            return Ok(Some(page.display().to_string()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links() {
        let html = r#"<a href="a.html#x">a</a><img src="img/b.png"><a href="https://x.org">"#;
        assert_eq!(links(html), ["a.html#x", "https://x.org", "img/b.png"]);
    }

    #[test]
    fn reports_missing_targets() {
        let dir = tempfile_dir();
        std::fs::write(
            dir.join("index.html"),
            r#"<a href="there.html">x</a><a href="gone.html#y">y</a>"#,
        )
        .unwrap();
        std::fs::write(dir.join("there.html"), "").unwrap();
        assert_eq!(check_links(&dir).unwrap(), ["index.html: gone.html#y"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The workspace README's swarm example is compiled by no crate of its own: it must be,
    /// line for line, the transport README's `SwarmBuilder` example, which is a doc test of
    /// torp2p-transport.
    #[test]
    fn the_root_readme_example_is_the_transport_readmes() {
        let read = |p: &str| std::fs::read_to_string(crate::root().join(p)).unwrap();
        let root = rust_blocks(&read("README.md"));
        let transport = rust_blocks(&read("crates/torp2p-transport/README.md"));
        assert!(!root.is_empty(), "README.md has no rust example");
        for block in &root {
            assert!(
                transport.contains(block),
                "this example of README.md is not one of crates/torp2p-transport/README.md \
                 (copy it from there, where it is compiled):\n{block}"
            );
        }
    }

    /// The fenced ```` ```rust ```` blocks of a markdown text.
    fn rust_blocks(md: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in md.lines() {
            match current.as_mut() {
                None if line.starts_with("```rust") => current = Some(String::new()),
                None => {}
                Some(_) if line.starts_with("```") => blocks.extend(current.take()),
                Some(block) => {
                    block.push_str(line);
                    block.push('\n');
                }
            }
        }
        blocks
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
