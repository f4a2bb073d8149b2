//! A lying oracle (test guest): the real oracle, except that every table it publishes gives
//! every node it saw 255, whatever it saw. It signs the honest merge like any oracle: the
//! median is what must hold against its table.

use std::collections::BTreeMap;

#[path = "../../../../actors/oraclesync-oracle/src/oracle.rs"]
mod oracle;

use oracle::{NodeIo, OracleActor};
use r1_guest::{Actor, Config, Message};
use r1_oraclesync::availability::{Epoch, Intervals};
use r1_oraclesync::certificate::Certificate;
use r1_oraclesync::round::{Io, Published};
use r1_oraclesync::table::Table;

struct Lying(NodeIo);

impl Io for Lying {
    fn observed(&mut self, epoch: &Epoch) -> Result<BTreeMap<String, Intervals>, String> {
        self.0.observed(epoch)
    }

    fn publish_table(&mut self, table: &Table) -> Result<(), String> {
        let lie = Table {
            epoch: table.epoch,
            figures: table.figures.keys().map(|n| (n.clone(), 255)).collect(),
        };
        self.0.publish_table(&lie)
    }

    fn tables(&mut self, epoch: u64) -> Result<Vec<([u8; 32], Table)>, String> {
        self.0.tables(epoch)
    }

    fn sign(&mut self, epoch: u64, root: [u8; 32]) -> Result<(), String> {
        self.0.sign(epoch, root)
    }

    fn signatures(&mut self, epoch: u64) -> Result<Vec<Published>, String> {
        self.0.signatures(epoch)
    }

    fn certify(&mut self, certificate: &Certificate) -> Result<(), String> {
        self.0.certify(certificate)
    }
}

struct Liar(OracleActor<Lying>);

impl Actor for Liar {
    fn init(_config: Config) -> Result<Self, String> {
        OracleActor::start(Lying(NodeIo)).map(Liar)
    }

    fn handle(&mut self, message: Message) -> Result<Option<Vec<u8>>, String> {
        self.0.handle(message)
    }
}

r1_guest::export_actor!(Liar);
