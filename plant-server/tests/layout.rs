//! The server's layout shows its architecture: no two source files import each other, directly or
//! through others, and the state depends on nothing in `handlers/`.
//!
//! A file's imports are the `crate::…` and `super::…` paths in its code outside comments and
//! outside its `#[cfg(test)]` module, resolved to the longest module path they name. The crate
//! root's re-exports of modules (`pub use edge::{problem, …}`) are followed. A module and its own
//! parent or children are not counted as importing each other (a parent declares its children).
//! No maintained crate answers this inside `cargo test` (cargo-modules is a separate tool built on
//! rust-analyzer), so the reading is done here, on the text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`edge::problem`) to the source of its file.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source directory is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != src.join("main.rs") {
                // main.rs is the binary's root; the library's is lib.rs.
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                found.insert(module_of(src, &path), text);
            }
        }
    }
    found
}

/// `edge/problem.rs` → `edge::problem`, `edge/mod.rs` → `edge`, `lib.rs` → the empty path (the
/// root).
fn module_of(src: &Path, file: &Path) -> String {
    let relative: PathBuf = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [only] if only == "lib" => String::new(),
        [dirs @ .., last] if last == "mod" => dirs.join("::"),
        all => all.join("::"),
    }
}

/// The file's code: without comment lines and without its test module.
fn code(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that follows `prefix` in `code`: `crate::a::b::C` gives `["a", "b"]` (lower-case
/// segments only: modules, not items).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let segments: Vec<String> = code[at + prefix.len()..]
            .split("::")
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|s| !s.is_empty())
            .collect();
        if !segments.is_empty() {
            out.push(segments);
        }
    }
    out
}

/// The root's re-exports of modules: `pub use edge::{problem, query};` gives `problem` →
/// `edge::problem`.
fn aliases(root: &str, known: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for statement in code(root).split(';') {
        let Some(rest) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (base, names) = match rest.split_once("::{") {
            Some((base, names)) => (base.trim(), names.trim_end_matches('}')),
            None => match rest.rsplit_once("::") {
                Some((base, name)) => (base.trim(), name),
                None => continue,
            },
        };
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let target = format!("{base}::{name}");
            if known.contains_key(&target) {
                out.insert(name.to_owned(), target);
            }
        }
    }
    out
}

/// The module a path from the root names: its longest prefix that is a module.
fn resolve(segments: &[String], known: &BTreeMap<String, String>) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| known.contains_key(candidate))
}

fn related(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
}

/// Module → the modules it imports.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules(src);
    let aliases = aliases(known.get("").map_or("", String::as_str), &known);
    let mut graph = BTreeMap::new();
    for (module, text) in &known {
        if module.is_empty() {
            continue;
        }
        let code = code(text);
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        let mut targets = BTreeSet::new();
        let from_root = paths_after(&code, "crate::").into_iter().map(|mut path| {
            if let Some(full) = aliases.get(&path[0]) {
                let mut expanded: Vec<String> = full.split("::").map(str::to_owned).collect();
                expanded.extend(path.drain(1..));
                expanded
            } else {
                path
            }
        });
        let from_parent = paths_after(&code, "super::").into_iter().map(|path| {
            let parent = parent.split("::").filter(|s| !s.is_empty());
            parent.map(str::to_owned).chain(path).collect::<Vec<_>>()
        });
        for path in from_root.chain(from_parent) {
            if let Some(target) = resolve(&path, &known)
                && !target.is_empty()
                && !related(module, &target)
            {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The groups of modules that import each other (strongly connected components of more than one
/// module), by Tarjan's algorithm.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(lw));
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low[v];
                    self.low.insert(v, lv.min(iw));
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_source_files_import_each_other() {
    let graph = imports(&server_src());
    assert!(
        graph.len() > 40,
        "the reading found {} modules",
        graph.len()
    );
    // The reading sees the imports it must: the edge's re-exports are followed.
    assert!(graph["handlers::catalog"].contains("edge::problem"));
    assert!(graph["edge::problem"].contains("edge::response"));
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "source files that import each other: {found:?}"
    );
}

#[test]
fn the_state_depends_on_nothing_in_handlers() {
    let graph = imports(&server_src());
    let into_handlers: Vec<&String> = graph["state"]
        .iter()
        .filter(|m| m.as_str() == "handlers" || m.starts_with("handlers::"))
        .collect();
    assert!(into_handlers.is_empty(), "state imports {into_handlers:?}");
}

#[test]
fn the_reading_finds_a_cycle_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    let code = code(
        "use crate::edge::problem::ApiError;\n/// [`crate::routes`]\n#[cfg(test)]\nuse crate::state;\n",
    );
    assert_eq!(paths_after(&code, "crate::"), vec![vec!["edge", "problem"]]);
}
