//! Embeds the web console and portal (`web/public/`) in the `connector` binary: writes
//! `$OUT_DIR/web_assets.rs`, a table of every file's URL path and its bytes (`include_bytes!`),
//! which `src/web.rs` serves. No npm and no build step: the files are served as committed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/public");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if root.is_dir() {
        collect(&root, &mut files);
    }
    files.sort();
    let mut out = String::from("/// Every file under web/public: (URL path, bytes).\n");
    out.push_str("pub(crate) static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under web/public");
        let url: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let absolute = file.canonicalize().expect("a readable file");
        writeln!(
            out,
            "    ({:?}, include_bytes!({:?})),",
            format!("/{}", url.join("/")),
            absolute.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Write beside and rename, so a build directory copied with hard links (`cp -al`) gets its
    // own file instead of rewriting the one it shares with the original.
    let temporary = dest.join("web_assets.rs.tmp");
    std::fs::write(&temporary, out).expect("writing web_assets.rs");
    std::fs::rename(&temporary, dest.join("web_assets.rs")).expect("renaming web_assets.rs");
}

/// Every regular file under `dir`, skipping hidden names.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a readable directory")
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, files);
        } else if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
}
