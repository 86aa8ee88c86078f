//! Sets `flood_avx512` when the compiler accepts the AVX-512 target features (stable since
//! Rust 1.89; the workspace's minimum Rust is older), for the flood CPU solver's AVX-512 build
//! of its row loops (`src/flood/cpu.rs`).

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(flood_avx512)");
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .nth(1)?
                .split('.')
                .nth(1)?
                .parse::<u32>()
                .ok()
        });
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=flood_avx512");
    }
}
