//! Oracle tables and their median merge.
//!
//! **Why the median holds**: with n tables of which at most f come from lying oracles and
//! n ≥ 2f + 1, the lower median of any node's n figures lies between the lowest and the
//! highest honest figure: at most f figures fall below the honest minimum and the median's
//! rank, ⌊(n − 1) / 2⌋, is at least f; symmetrically at most f lie above the honest maximum
//! and fewer than n − f figures come before the median. So liars can move a figure only
//! within the range honest oracles observed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One oracle's figures for one epoch: node id → availability (0–255).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The epoch.
    pub epoch: u64,
    /// Each node's availability as this oracle saw it.
    pub figures: BTreeMap<String, u8>,
}

/// The lower median of each node's figures across `tables` (one per oracle; a node missing
/// from a table counts as 0 there: that oracle saw it never beat). The same tables give the
/// same result in any order. Tables of another epoch than `epoch` are ignored.
pub fn median_merge(epoch: u64, tables: &[&Table]) -> Table {
    let tables: Vec<&&Table> = tables.iter().filter(|t| t.epoch == epoch).collect();
    let nodes: BTreeSet<&String> = tables.iter().flat_map(|t| t.figures.keys()).collect();
    let mut figures = BTreeMap::new();
    for node in nodes {
        let mut values: Vec<u8> = tables
            .iter()
            .map(|t| t.figures.get(node).copied().unwrap_or(0))
            .collect();
        values.sort_unstable();
        figures.insert(node.clone(), values[(values.len() - 1) / 2]);
    }
    Table { epoch, figures }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(epoch: u64, figures: &[(&str, u8)]) -> Table {
        Table {
            epoch,
            figures: figures.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn the_median_outvotes_one_liar_among_four() {
        let honest = [
            table(7, &[("a", 200), ("b", 10)]),
            table(7, &[("a", 201), ("b", 12)]),
            table(7, &[("a", 199), ("b", 11)]),
        ];
        let liar = table(7, &[("a", 0), ("b", 255), ("ghost", 255)]);
        let all: Vec<&Table> = honest.iter().chain([&liar]).collect();
        let merged = median_merge(7, &all);
        assert!((199..=201).contains(&merged.figures["a"]));
        assert!((10..=12).contains(&merged.figures["b"]));
        assert_eq!(
            merged.figures["ghost"], 0,
            "a node only a liar reports stays 0"
        );
        let other_epoch = table(8, &[("a", 0)]);
        let with_other: Vec<&Table> = all.iter().copied().chain([&other_epoch]).collect();
        assert_eq!(median_merge(7, &with_other), merged);
    }

    proptest! {
        #[test]
        fn f_liars_cannot_move_a_figure_outside_the_honest_range(
            f in 0usize..3,
            extra_honest in 0usize..3,
            honest_values in proptest::collection::vec(any::<u8>(), 9),
            lies in proptest::collection::vec(any::<u8>(), 3),
            rotate in 0usize..9,
        ) {
            let n_honest = f + 1 + extra_honest; // n = f + n_honest ≥ 2f + 1
            let mut tables: Vec<Table> = (0..n_honest)
                .map(|i| table(1, &[("x", honest_values[i])]))
                .collect();
            tables.extend((0..f).map(|i| table(1, &[("x", lies[i])])));
            let n = tables.len();
            tables.rotate_left(rotate % n);
            let refs: Vec<&Table> = tables.iter().collect();
            let merged = median_merge(1, &refs).figures["x"];
            let honest = &honest_values[..n_honest];
            prop_assert!(merged >= *honest.iter().min().unwrap());
            prop_assert!(merged <= *honest.iter().max().unwrap());
            // Order does not matter.
            let mut reversed = refs.clone();
            reversed.reverse();
            prop_assert_eq!(median_merge(1, &reversed).figures["x"], merged);
        }
    }
}
