//! `cargo xtask bundle fixloop-plugin --release`: builds the plugin and lays out the
//! `.clap` and `.vst3` bundles under `target/bundled/`.

fn main() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::main()
}
