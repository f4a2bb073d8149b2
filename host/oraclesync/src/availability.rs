//! Availability from heartbeats (the reference's rule, with its figures as defaults).
//!
//! Heartbeats at times `t1 < t2 < …` (ms) form online intervals: a beat continues the current
//! interval when it comes at most `period + grace` after the previous one, else it starts a
//! new one. An interval from beat `a` to beat `b` counts as online from `a` until `b +
//! period` (the last beat vouches for one period). The online time inside the epoch, over the
//! epoch's length, scaled to 0–255 and rounded half up, is the node's availability.

/// How availability is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    /// The heartbeat period (production: 10 s).
    pub period_ms: u64,
    /// Slack beyond the period before a gap closes an interval (reference: 5 s).
    pub grace_ms: u64,
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            period_ms: 10_000,
            grace_ms: 5_000,
        }
    }
}

/// An epoch: `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// Its number.
    pub number: u64,
    /// First millisecond (inclusive).
    pub start_ms: u64,
    /// Last millisecond (exclusive); after `start_ms`.
    pub end_ms: u64,
}

impl Epoch {
    /// Epoch `number` of `length_ms` counted from `genesis_ms`.
    pub fn nth(genesis_ms: u64, length_ms: u64, number: u64) -> Self {
        let start_ms = genesis_ms + number * length_ms;
        Self {
            number,
            start_ms,
            end_ms: start_ms + length_ms,
        }
    }

    /// Its length.
    pub fn length_ms(&self) -> u64 {
        self.end_ms - self.start_ms
    }
}

/// One node's beats as the online intervals they form (first beat, last beat), oldest first:
/// what an oracle keeps instead of every beat (a day of 10 s beats from 10,000 nodes is 86 M
/// beats; the intervals are a handful per node). Beats must come in time order, as an
/// oracle's own clock stamps them on arrival; an earlier one than the last is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Intervals {
    /// `(first beat, last beat)` per interval, in time order.
    pub spans: Vec<(u64, u64)>,
}

impl Intervals {
    /// Adds a beat at `at_ms` under `rule`.
    pub fn push(&mut self, at_ms: u64, rule: &Rule) {
        match self.spans.last_mut() {
            Some((_, last)) if at_ms < *last => {}
            Some((_, last)) if at_ms - *last <= rule.period_ms + rule.grace_ms => *last = at_ms,
            _ => self.spans.push((at_ms, at_ms)),
        }
    }

    /// Milliseconds online in `epoch`: each interval counts from its first beat until one
    /// period after its last.
    pub fn online_ms(&self, epoch: &Epoch, rule: &Rule) -> u64 {
        self.spans
            .iter()
            .map(|&(first, last)| {
                let from = first.max(epoch.start_ms);
                let to = last.saturating_add(rule.period_ms).min(epoch.end_ms);
                to.saturating_sub(from)
            })
            .sum()
    }

    /// The intervals that count in `epoch` (those that end, plus one period, after it starts
    /// and begin before it ends).
    pub fn within(&self, epoch: &Epoch, rule: &Rule) -> Intervals {
        Intervals {
            spans: self
                .spans
                .iter()
                .copied()
                .filter(|&(first, last)| {
                    first < epoch.end_ms && last.saturating_add(rule.period_ms) > epoch.start_ms
                })
                .collect(),
        }
    }

    /// Forgets the intervals that ended (plus one period) before `ms`, keeping the last one
    /// (a beat after it may still extend it).
    pub fn forget_before(&mut self, ms: u64, rule: &Rule) {
        let keep_from = self
            .spans
            .iter()
            .position(|&(_, last)| last.saturating_add(rule.period_ms) >= ms)
            .unwrap_or(self.spans.len().saturating_sub(1));
        self.spans.drain(..keep_from);
    }

    /// The availability 0–255 in `epoch`.
    pub fn availability(&self, epoch: &Epoch, rule: &Rule) -> u8 {
        share_of(self.online_ms(epoch, rule), epoch)
    }
}

/// Milliseconds online in `epoch` given `beats` (sorted ascending; duplicates allowed).
pub fn online_ms(beats: &[u64], epoch: &Epoch, rule: &Rule) -> u64 {
    let mut intervals = Intervals::default();
    for &beat in beats {
        intervals.push(beat, rule);
    }
    intervals.online_ms(epoch, rule)
}

/// `online` ms of `epoch` as 0–255: round(online / length × 255), half up, in integers.
fn share_of(online: u64, epoch: &Epoch) -> u8 {
    let length = epoch.length_ms().max(1) as u128;
    let online = online as u128;
    ((online * 255 * 2 + length) / (length * 2)).min(255) as u8
}

/// The availability 0–255 of a node whose beats (sorted) are `beats`.
pub fn availability(beats: &[u64], epoch: &Epoch, rule: &Rule) -> u8 {
    share_of(online_ms(beats, epoch, rule), epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        period_ms: 200,
        grace_ms: 100,
    };

    fn beats(from: u64, to: u64, every: u64) -> Vec<u64> {
        (from..to).step_by(every as usize).collect()
    }

    #[test]
    fn a_node_up_all_epoch_is_255_and_one_never_seen_is_0() {
        let epoch = Epoch::nth(0, 10_000, 0);
        assert_eq!(availability(&beats(0, 10_000, 200), &epoch, &RULE), 255);
        assert_eq!(availability(&[], &epoch, &RULE), 0);
    }

    #[test]
    fn a_node_down_for_a_known_share_gets_that_share_within_one_beat() {
        let epoch = Epoch::nth(1_000, 10_000, 0);
        // Up 1 000–4 000 and 7 000–11 000: 3 s + 4 s of 10 s online.
        let mut b = beats(1_000, 4_000, 200);
        b.extend(beats(7_000, 11_000, 200));
        let expected = (7_000.0 / 10_000.0 * 255.0_f64).round() as i32;
        let got = availability(&b, &epoch, &RULE) as i32;
        let one_beat = (200.0 / 10_000.0 * 255.0_f64).ceil() as i32;
        assert!((got - expected).abs() <= one_beat, "{got} vs {expected}");
        // Beats outside the epoch count only for the part inside it.
        let before = beats(0, 1_000, 200);
        assert_eq!(availability(&before, &epoch, &RULE), 0);
    }

    #[test]
    fn a_gap_within_period_plus_grace_does_not_break_an_interval() {
        let epoch = Epoch::nth(0, 2_000, 0);
        // 0, 250, 500 …: 250 ms apart (≤ 300): one interval 0 … 1 750 + 200.
        let b = beats(0, 2_000, 250);
        assert_eq!(online_ms(&b, &epoch, &RULE), 1_950);
        // 400 ms apart (> 300): each beat counts for its own 200 ms only.
        let b = beats(0, 2_000, 400);
        assert_eq!(online_ms(&b, &epoch, &RULE), 1_000);
        // Duplicates and unsorted duplicates change nothing.
        let mut d = b.clone();
        d.extend(b.iter().copied());
        d.sort_unstable();
        assert_eq!(online_ms(&d, &epoch, &RULE), 1_000);
    }

    #[test]
    fn intervals_kept_across_epochs_give_each_epoch_its_share() {
        let mut kept = Intervals::default();
        // Up 0–5 000, down, up 8 000–20 000; the epochs are 10 s long.
        for beat in beats(0, 5_000, 200)
            .into_iter()
            .chain(beats(8_000, 20_000, 200))
        {
            kept.push(beat, &RULE);
        }
        kept.push(100, &RULE); // late and out of order: ignored
        assert_eq!(kept.spans, vec![(0, 4_800), (8_000, 19_800)]);
        let (e0, e1) = (Epoch::nth(0, 10_000, 0), Epoch::nth(0, 10_000, 1));
        assert_eq!(kept.online_ms(&e0, &RULE), 5_000 + 2_000);
        assert_eq!(kept.online_ms(&e1, &RULE), 10_000);
        assert_eq!(kept.within(&e1, &RULE).spans, vec![(8_000, 19_800)]);
        // Forgetting what ended before epoch 1 keeps its figure.
        kept.forget_before(e1.start_ms, &RULE);
        assert_eq!(kept.spans.len(), 1);
        assert_eq!(kept.availability(&e1, &RULE), 255);
    }
}
