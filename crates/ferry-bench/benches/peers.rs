//! `cargo bench -p ferry-bench`: see the crate documentation of `ferry_bench`.

fn main() {
    ferry_bench::main();
}
