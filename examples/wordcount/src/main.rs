//! Example command: counts the lines, words and bytes of stdin and prints them like `wc`.
//! With the argument `--total KEY` it also adds the word count to a running total kept under
//! KEY in `wasi:keyvalue` (bucket `default`: on R1, the granted CSTORE namespace) and prints
//! the total. Exit status 0, or 1 with a message on stderr. It imports `wasi:keyvalue`, so it
//! runs only with a `cstore:` grant (without one it is refused before it starts).
//!
//! ```sh
//! r1 run --grant cstore:wc target/wasm/wordcount.wasm < README.md
//! r1 run --grant cstore:wc target/wasm/wordcount.wasm --total words < README.md
//! ```
use std::io::Read;

wit_bindgen::generate!({
    path: "../../wit/keyvalue",
    world: "wasi:keyvalue/imports@0.2.0-draft2",
    generate_all,
});

use wasi::keyvalue::atomics;
use wasi::keyvalue::store;

fn main() {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("wordcount: cannot read stdin: {e}");
        std::process::exit(1);
    }
    let text = String::from_utf8_lossy(&input);
    let words = text.split_whitespace().count();
    println!("{:>7} {:>7} {:>7}", text.lines().count(), words, input.len());
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, key] = args.as_slice()
        && flag == "--total"
    {
        let total = store::open("default")
            .and_then(|bucket| atomics::increment(&bucket, key, words as i64));
        match total {
            Ok(total) => println!("total {key}: {total}"),
            Err(e) => {
                eprintln!("wordcount: cannot update {key}: {e:?}");
                std::process::exit(1);
            }
        }
    } else if !args.is_empty() {
        eprintln!("usage: wordcount [--total KEY] < input");
        std::process::exit(1);
    }
}
