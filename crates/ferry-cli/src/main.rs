fn main() {
    println!("cli");
}
