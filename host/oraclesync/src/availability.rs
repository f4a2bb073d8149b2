//! Availability from heartbeats (the reference's rule, with its figures as defaults).
//!
//! Heartbeats at times `t1 < t2 < …` (ms) form online intervals: a beat continues the current
//! interval when it comes at most `period + grace` after the previous one, else it starts a
//! new one. An interval from beat `a` to beat `b` counts as online from `a` until `b +
//! period` (the last beat vouches for one period). The online time inside the epoch, over the
//! epoch's length, scaled to 0–255 and rounded half up, is the node's availability.

/// How availability is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Milliseconds online in `epoch` given `beats` (sorted ascending; duplicates allowed).
pub fn online_ms(beats: &[u64], epoch: &Epoch, rule: &Rule) -> u64 {
    let mut online = 0u64;
    let mut interval: Option<(u64, u64)> = None; // (first beat, last beat)
    let mut close = |(from, to): (u64, u64)| {
        let from = from.max(epoch.start_ms);
        let to = to.saturating_add(rule.period_ms).min(epoch.end_ms);
        if to > from {
            online += to - from;
        }
    };
    for &beat in beats {
        interval = match interval {
            Some((first, last)) if beat.saturating_sub(last) <= rule.period_ms + rule.grace_ms => {
                Some((first, last.max(beat)))
            }
            Some(done) => {
                close(done);
                Some((beat, beat))
            }
            None => Some((beat, beat)),
        };
    }
    if let Some(last) = interval {
        close(last);
    }
    online
}

/// The availability 0–255 of a node whose beats (sorted) are `beats`.
pub fn availability(beats: &[u64], epoch: &Epoch, rule: &Rule) -> u8 {
    let length = epoch.length_ms().max(1) as u128;
    let online = online_ms(beats, epoch, rule) as u128;
    // round(online / length × 255), half up, in integers.
    ((online * 255 * 2 + length) / (length * 2)).min(255) as u8
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
}
