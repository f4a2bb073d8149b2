//! OracleSync's oracle, a system actor. The node starts it on an oracle node (grant
//! `oraclesync`, which nothing else can be given) and sends it `tick` every `[oraclesync]
//! tick_ms`. Each tick advances `r1_oraclesync::round::Oracle` — publish this oracle's table
//! once an epoch has settled, sign the median merge of 2f + 1 or more tables (once per epoch),
//! assemble and hand over the certificate once 2f + 1 oracles signed the same root — through
//! the node's `r1:oraclesync` control ([`NodeIo`]), which holds the key and the observations.
//!
//! Messages: `tick` (advance; replies with what happened, one line each), `status` (the last
//! lines). Ticks are idempotent: a stray one costs a pass, nothing more.

mod oracle;

use oracle::{NodeIo, OracleActor};
use r1_guest::{Actor, Config, Message};

struct Honest(OracleActor<NodeIo>);

impl Actor for Honest {
    fn init(_config: Config) -> Result<Self, String> {
        OracleActor::start(NodeIo).map(Honest)
    }

    fn handle(&mut self, message: Message) -> Result<Option<Vec<u8>>, String> {
        self.0.handle(message)
    }
}

r1_guest::export_actor!(Honest);
