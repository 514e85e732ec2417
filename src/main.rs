fn main() {
    println!("ha-vip");
}
