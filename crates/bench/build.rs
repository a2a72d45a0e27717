//! Builds c/readiness.c, the C twin of the Rust readiness loops (part 1 compares them).

fn main() {
    println!("cargo:rerun-if-changed=c/readiness.c");
    cc::Build::new()
        .file("c/readiness.c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .compile("readiness");
}
