//! Tells the runner how to compile the C programs against the libcurl the workspace
//! links: curl-sys's bundled copy (a static library in its OUT_DIR) or the system's.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let include = env::var("DEP_CURL_INCLUDE").unwrap_or_default();
    let bundled = env::var("DEP_CURL_STATIC").is_ok();
    let libs = match env::var("DEP_CURL_ROOT") {
        // The bundled build: cc compiled it into OUT_DIR/build/libcurl.a; it needs zlib.
        Ok(root) if bundled => format!("{} -lz", Path::new(&root).join("build").join("libcurl.a").display()),
        _ => "-lcurl".to_string(),
    };
    println!("cargo:rustc-env=EVIDENCE_CURL_INCLUDE={include}");
    println!("cargo:rustc-env=EVIDENCE_CURL_LIBS={libs}");
    let out = env::var("OUT_DIR").unwrap_or_else(|_| "target/evidence".to_string());
    println!("cargo:rustc-env=EVIDENCE_BUILD_DIR={}", Path::new(&out).join("programs").display());
}
