//! Test command for the standard worlds. `std-command VERB ARGS…`:
//! - `get KEY` prints `KEY=VALUE` (or `KEY absent`) from `wasi:keyvalue` bucket `default`
//! - `set KEY VALUE` stores it and prints `stored`
//! - `config KEY` prints the `wasi:config` value (or `absent`)
//! - `log MESSAGE` logs it through `wasi:logging` and prints `logged`
//! - `env KEY` prints the environment variable (or `absent`)
//! - `args` prints every argument, `|`-separated
//! - `echo` copies stdin to stdout
//! - `fail` prints to stderr and exits 1; `trap` panics
wit_bindgen::generate!({
    path: ["../../../wit/keyvalue", "../../../wit/config", "../../../wit/logging", "wit"],
    world: "r1-test:std-command/std-command",
    generate_all,
});

use std::io::Read;

use wasi::config::store as config;
use wasi::keyvalue::store;
use wasi::logging::logging::{self, Level};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let verb = args.get(1).map(String::as_str).unwrap_or("");
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match verb {
        "get" => {
            let bucket = store::open("default").expect("open bucket");
            match bucket.get(&arg(2)).expect("get") {
                Some(v) => println!("{}={}", arg(2), String::from_utf8_lossy(&v)),
                None => println!("{} absent", arg(2)),
            }
        }
        "set" => {
            let bucket = store::open("default").expect("open bucket");
            bucket.set(&arg(2), arg(3).as_bytes()).expect("set");
            println!("stored");
        }
        "config" => match config::get(&arg(2)).expect("config") {
            Some(v) => println!("{v}"),
            None => println!("absent"),
        },
        "log" => {
            logging::log(Level::Info, "std-command", &arg(2));
            println!("logged");
        }
        "env" => println!("{}", std::env::var(arg(2)).unwrap_or_else(|_| "absent".into())),
        "args" => println!("{}", args.join("|")),
        "echo" => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).expect("stdin");
            print!("{input}");
        }
        "fail" => {
            eprintln!("failing on purpose");
            std::process::exit(1);
        }
        "trap" => panic!("trapping on purpose"),
        other => {
            eprintln!("unknown verb {other:?}");
            std::process::exit(2);
        }
    }
}
