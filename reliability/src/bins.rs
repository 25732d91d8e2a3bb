//! Where the `plant-server` and `plant-cli` binaries are.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The directory holding the workspace's binaries: the parent of `deps/`, where the test
/// executable lives.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let deps = exe.parent().expect("the test executable is in a directory");
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps has a parent").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

fn ensure_built() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // A directory of the caller's choosing, for a target directory other builds share.
        if let Some(dir) = std::env::var_os("PLANT_BIN_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let dir = bin_dir();
        let stale = [
            (
                "plant-server",
                ["plant-core", "plant-server", "migrations", "seeds"],
            ),
            (
                "plant-cli",
                ["plant-core", "plant-cli", "migrations", "seeds"],
            ),
        ]
        .iter()
        .any(|(name, sources)| {
            modified(&dir.join(name))
                .is_none_or(|built| newest_source(sources).is_some_and(|source| source > built))
        });
        if stale {
            // `cargo test --workspace` builds both binaries (their packages have integration
            // tests); `cargo test -p plant-reliability` alone does not, so build them here when
            // one is missing or older than a source it is built from. (Not every time: this
            // package alone resolves other features than the workspace, so a build here after
            // `cargo test --workspace` would compile the server again.)
            // The profile the test executable was built with: `target/debug` is `dev`.
            let profile = match dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev".to_owned(),
                Some(name) => name.to_owned(),
            };
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
            let status = Command::new(cargo)
                .args(["build", "--profile", &profile])
                .args(["-p", "plant-server", "-p", "plant-cli", "--manifest-path"])
                .arg(manifest)
                .status()
                .expect("cargo runs");
            assert!(
                status.success(),
                "cargo build --profile {profile} of plant-server and plant-cli failed"
            );
        }
        dir
    })
    .clone()
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// When a file under the workspace's `parts` last changed, leaving out tests and benches (what
/// a binary embeds, such as migrations, seeds and the console's assets, is under its parts).
fn newest_source(parts: &[&str]) -> Option<SystemTime> {
    fn walk(path: &Path, newest: &mut Option<SystemTime>) {
        if path.is_dir() {
            let skipped = path
                .file_name()
                .is_some_and(|n| n == "tests" || n == "benches" || n == "target");
            if skipped {
                return;
            }
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path(), newest);
            }
        } else if let Some(at) = modified(path) {
            *newest = (*newest).max(Some(at));
        }
    }
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut newest = None;
    for part in parts {
        walk(&root.join(part), &mut newest);
    }
    newest
}

/// The `plant-server` binary.
pub fn server() -> PathBuf {
    ensure_built().join("plant-server")
}

/// The `plant-cli` binary.
pub fn cli() -> PathBuf {
    ensure_built().join("plant-cli")
}

/// Variables the binaries read; removed from every child so the caller's shell cannot leak in.
pub const PLANT_VARS: &[&str] = &[
    "DATABASE_URL",
    "PORT",
    "PLANT_DB_POOL_SIZE",
    "PLANT_SEED_FILE",
    "PLANT_SEED_JSON",
    "PLANT_JWT_SECRET",
    "PLANT_JWT_PUBLIC_KEY",
    "PLANT_JWT_ALG",
    "PLANT_JWT_JWKS_FILE",
    "PLANT_JWT_JWKS_URL",
    "PLANT_JWT_JWKS_MIN_REFRESH_MS",
    "PLANT_JWT_AUDIENCE",
    "PLANT_JWT_ISSUER",
    "CORS_ORIGINS",
    "PLANT_BODY_LIMIT",
    "PLANT_REQUEST_TIMEOUT_MS",
    "PLANT_MAX_CONNECTIONS",
    "PLANT_FORWARDED_HOPS",
    "PLANT_HEADER_TIMEOUT_MS",
    "PLANT_EMBED_MODEL_DIR",
    "PLANT_VERIFY_JSON",
    "PLANT_TRUSTED_KEYS",
    "PLANT_SIGNING_KEY",
    "PLANT_SIGNING_KEY_FILE",
    "PLANT_CHECKPOINT_FILE",
    "PLANT_KEYGEN_OUT",
    "PLANT_TOKEN_ROLE",
    "PLANT_TOKEN_AGENT_ID",
    "PLANT_TOKEN_EMAIL",
    "PLANT_TOKEN_SUB",
    "PLANT_TOKEN_TTL",
    "PLANT_EMBED_BATCH",
    "LOG_FORMAT",
    "RUST_LOG",
    "GOOGLE_CLOUD_PROJECT",
    "GCP_PROJECT",
];

/// A command for `program` with none of [`PLANT_VARS`] inherited.
pub fn clean_command(program: &std::path::Path) -> Command {
    let mut cmd = Command::new(program);
    for var in PLANT_VARS {
        cmd.env_remove(var);
    }
    cmd
}
