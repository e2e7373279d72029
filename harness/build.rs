//! Records the git commit the binary was built from (for `run.json`), when built from a clone,
//! and links the binary with packed relative relocations where the toolchain has them.

use std::process::Command;

fn main() {
    // At run time: the build script's binary may be reused from another checkout.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = std::path::Path::new(&dir).join("..");
    let git = root.join(".git");
    println!("cargo:rerun-if-changed={}", git.join("HEAD").display());
    println!(
        "cargo:rerun-if-changed={}",
        git.join("refs/heads").display()
    );
    let commit = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=ATLASPERF_GIT_COMMIT={commit}");
    // Every job is this binary, so what the loader touches at start is in every job's peak
    // memory: ~78 000 relative relocations take 1.9 MB as RELA entries, a few KB packed
    // (DT_RELR, glibc ≥ 2.36, GNU ld ≥ 2.38).
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("linux-gnu") && linker_packs_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the C compiler driver (which links Rust binaries on Linux) accepts
/// `-z pack-relative-relocs` and the C library can load the result.
fn linker_packs_relocations() -> bool {
    let out = std::env::var_os("OUT_DIR").unwrap_or_default();
    let exe = std::path::Path::new(&out).join("relr-probe");
    let src = std::path::Path::new(&out).join("relr-probe.c");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let built = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-Wl,-z,pack-relative-relocs")
        .arg("-Wl,--fatal-warnings")
        .output()
        .is_ok_and(|o| o.status.success());
    built && Command::new(&exe).status().is_ok_and(|s| s.success())
}
