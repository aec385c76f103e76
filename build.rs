//! Links the `evalkit` command at a fixed address (not position-independent)
//! on Linux: a position-independent build of it carries about 175,000
//! relative relocations, which the loader applied at every start (about 3 ms
//! of CPU, writing to, and so copying, 3 MB of pages): a tenth of `evalkit
//! fast` on 10⁷ rows. The shared libraries (libc, ONNX Runtime), the heap and
//! the stack are still placed at random addresses; the Python extension is a
//! separate crate and stays position-independent. See README, "Development".

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bin=evalkit=-no-pie");
    }
}
