//! Federated learning on the digits dataset with encrypted aggregation (EDIL). One component,
//! three roles (config `role`):
//!
//! - `client` (grants `edil:JOB`, `r1fs`, `fs-ro:DATASETS=/data`): holds shard `shard` of
//!   `shards` of the training set. `train <round> <global>` trains a softmax regression from the
//!   global model (an R1FS id, or `init`) for `epochs` epochs, encrypts the change of weights
//!   under the job's key (signed by its node) and replies with the update's R1FS id.
//!   `train-plain <round> <global>` does the same without encryption (the plaintext FedAvg
//!   baseline): the change goes to R1FS as plain f32s.
//! - `aggregator` (grant `edil:JOB`): `aggregate <round> <update ids…>` sums the updates
//!   without any key; replies `<aggregate id> <clients>`.
//! - `owner` (grants `edil-owner:JOB`, `r1fs`, `fs-ro:DATASETS=/data`):
//!   `apply <global> <aggregate id> <clients>` decrypts the sum, averages it into the global
//!   model and replies `<new global id> <test accuracy>`; `apply-plain <global> <change ids…>`
//!   averages plaintext changes the same way.
//!
//! The split is deterministic: the 1,797 images are shuffled with seed `seed`, the last 297
//! are the test set, the first 1,500 are cut into `shards` equal shards.

use r1_guest::vectors::{from_bytes, to_bytes};
use r1_guest::{Actor, Config, Message, edil, fs};

const FEATURES: usize = 64;
const CLASSES: usize = 10;
const PARAMS: usize = CLASSES * FEATURES + CLASSES;
const TEST: usize = 297;

struct Sample {
    x: [f32; FEATURES],
    label: usize,
}

enum Role {
    Client { train: Vec<Sample> },
    Aggregator,
    Owner { test: Vec<Sample> },
}

struct Federated {
    job: String,
    role: Role,
    epochs: usize,
    learning_rate: f32,
}

fn load_digits(seed: u64) -> Result<Vec<Sample>, String> {
    let text = std::fs::read_to_string("/data/digits.csv")
        .map_err(|e| format!("cannot read /data/digits.csv ({e}); grant fs-ro:<datasets dir>=/data"))?;
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != FEATURES + 1 {
            return Err(format!("digits.csv line {}: {} fields", n + 1, fields.len()));
        }
        let mut x = [0f32; FEATURES];
        for (v, f) in x.iter_mut().zip(&fields) {
            *v = f.trim().parse::<f32>().map_err(|e| format!("line {}: {e}", n + 1))? / 16.0;
        }
        let label = fields[FEATURES]
            .trim()
            .parse::<f32>()
            .map_err(|e| format!("line {}: {e}", n + 1))? as usize;
        if label >= CLASSES {
            return Err(format!("line {}: label {label}", n + 1));
        }
        samples.push(Sample { x, label });
    }
    // Fisher-Yates with a xorshift generator: the same order on every node.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..samples.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        samples.swap(i, (state % (i as u64 + 1)) as usize);
    }
    Ok(samples)
}

fn logits(w: &[f32], x: &[f32; FEATURES]) -> [f32; CLASSES] {
    let mut out = [0f32; CLASSES];
    for (c, o) in out.iter_mut().enumerate() {
        let row = &w[c * FEATURES..(c + 1) * FEATURES];
        *o = row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + w[CLASSES * FEATURES + c];
    }
    out
}

/// Full-batch gradient descent on softmax cross-entropy.
fn train(w: &mut [f32], data: &[Sample], epochs: usize, lr: f32) {
    let mut grad = vec![0f32; PARAMS];
    for _ in 0..epochs {
        grad.iter_mut().for_each(|g| *g = 0.0);
        for s in data {
            let z = logits(w, &s.x);
            let max = z.iter().cloned().fold(f32::MIN, f32::max);
            let exp: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
            let total: f32 = exp.iter().sum();
            for c in 0..CLASSES {
                let err = exp[c] / total - if c == s.label { 1.0 } else { 0.0 };
                let row = &mut grad[c * FEATURES..(c + 1) * FEATURES];
                for (g, x) in row.iter_mut().zip(&s.x) {
                    *g += err * x;
                }
                grad[CLASSES * FEATURES + c] += err;
            }
        }
        let scale = lr / data.len() as f32;
        for (p, g) in w.iter_mut().zip(&grad) {
            *p -= scale * g;
        }
    }
}

fn accuracy(w: &[f32], data: &[Sample]) -> f32 {
    let right = data
        .iter()
        .filter(|s| {
            let z = logits(w, &s.x);
            let best = (0..CLASSES).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap_or(0);
            best == s.label
        })
        .count();
    right as f32 / data.len() as f32
}

fn load_model(id: &str) -> Result<Vec<f32>, String> {
    if id == "init" {
        return Ok(vec![0.0; PARAMS]);
    }
    let w = from_bytes(&fs::read_all(id).map_err(|e| format!("model {id}: {e:?}"))?);
    if w.len() != PARAMS {
        return Err(format!("model {id} has {} parameters, expected {PARAMS}", w.len()));
    }
    Ok(w)
}

fn store(v: &[f32], name: &str) -> Result<String, String> {
    fs::add(&to_bytes(v), Some(name), false).map_err(|e| format!("{e:?}"))
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

impl Federated {
    fn local_change(&self, global: &str) -> Result<Vec<f32>, String> {
        let Role::Client { train: data } = &self.role else {
            return Err("only clients train".into());
        };
        let start = load_model(global)?;
        let mut w = start.clone();
        train(&mut w, data, self.epochs, self.learning_rate);
        Ok(w.iter().zip(&start).map(|(a, b)| a - b).collect())
    }

    fn finish_round(&self, global: &str, mean_change: &[f32]) -> Result<String, String> {
        let Role::Owner { test } = &self.role else {
            return Err("only the owner updates the global model".into());
        };
        let mut w = load_model(global)?;
        for (p, d) in w.iter_mut().zip(mean_change) {
            *p += d;
        }
        let id = store(&w, "global-model")?;
        Ok(format!("{id} {:.4}", accuracy(&w, test)))
    }
}

impl Actor for Federated {
    fn init(config: Config) -> Result<Self, String> {
        let job = config.get_or("job", "digits").to_owned();
        let seed: u64 = config.get_or("seed", "7").parse().map_err(err)?;
        let number = |key: &str, default: &str| -> Result<usize, String> {
            config.get_or(key, default).parse().map_err(|e| format!("{key}: {e}"))
        };
        let role = match config.get_or("role", "client") {
            "client" => {
                let (shard, shards) = (number("shard", "0")?, number("shards", "3")?);
                if shards == 0 || shard >= shards {
                    return Err(format!("shard {shard} of {shards}"));
                }
                let all = load_digits(seed)?;
                let train_set = &all[..all.len() - TEST];
                let size = train_set.len() / shards;
                let train: Vec<Sample> = train_set[shard * size..(shard + 1) * size]
                    .iter()
                    .map(|s| Sample { x: s.x, label: s.label })
                    .collect();
                Role::Client { train }
            }
            "aggregator" => Role::Aggregator,
            "owner" => {
                let all = load_digits(seed)?;
                let test = all[all.len() - TEST..]
                    .iter()
                    .map(|s| Sample { x: s.x, label: s.label })
                    .collect();
                Role::Owner { test }
            }
            other => return Err(format!("unknown role {other:?}: client, aggregator or owner")),
        };
        Ok(Federated {
            job,
            role,
            epochs: number("epochs", "5")?,
            learning_rate: config.get_or("learning_rate", "0.5").parse().map_err(err)?,
        })
    }

    fn handle(&mut self, msg: Message) -> Result<Option<Vec<u8>>, String> {
        let text = msg.text().into_owned();
        let words: Vec<&str> = text.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["train", round, global] => {
                let change = self.local_change(global)?;
                edil::encrypt(&self.job, round.parse().map_err(err)?, &change).map_err(err)?
            }
            ["train-plain", _round, global] => store(&self.local_change(global)?, "plain-change")?,
            ["aggregate", round, updates @ ..] => {
                let updates: Vec<String> = updates.iter().map(|u| u.to_string()).collect();
                let info = edil::aggregate(&self.job, round.parse().map_err(err)?, &updates)
                    .map_err(err)?;
                format!("{} {}", info.cid, info.clients)
            }
            ["apply", global, aggregate, clients] => {
                let clients: f32 = clients.parse().map_err(err)?;
                let sum = edil::decrypt(&self.job, aggregate).map_err(err)?;
                let mean: Vec<f32> = sum.iter().map(|v| v / clients).collect();
                self.finish_round(global, &mean)?
            }
            ["apply-plain", global, changes @ ..] if !changes.is_empty() => {
                let mut mean = vec![0f32; PARAMS];
                for id in changes {
                    for (m, v) in mean.iter_mut().zip(load_model(id)?) {
                        *m += v / changes.len() as f32;
                    }
                }
                self.finish_round(global, &mean)?
            }
            _ => return Err(format!("unknown command {text:?}")),
        };
        Ok(Some(reply.into_bytes()))
    }
}

r1_guest::export_actor!(Federated);
