//! Open a twin folder and print its layers: `cargo run -p examples --example query_twin -- data/hue`.
fn main() -> anyhow::Result<()> {
    Ok(())
}
