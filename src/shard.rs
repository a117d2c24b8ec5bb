//! Deterministic shards of a plan (`run --shard K/N`).
//!
//! Every run is assigned to one of N shards by its estimated cost
//! ([`crate::model::cost`]): runs are taken from the most to the least
//! expensive (plan order breaks ties) and each goes to the least loaded
//! shard so far (the lowest index breaks ties): the longest-processing-time
//! rule. It depends on the plan alone, so every array task computes the
//! same assignment independently, and a shard's runs keep the unsharded
//! plan's ids, labels, seeds and Philox counters.

use crate::plan::Plan;
use crate::results::{PlanEntry, ShardRecord};
use std::fmt;
use std::str::FromStr;

/// `--shard K/N`: the K-th (1-based) of N parts of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, in 1..=N.
    pub index: usize,
    /// N, at least 1.
    pub count: usize,
}

/// Why a shard cannot be made (a usage error: nothing is run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("expected K/N with whole numbers, e.g. 2/8; got {0:?}")]
    Syntax(String),
    #[error("shard {index}/{count} does not exist: K must be between 1 and N, and N at least 1")]
    OutOfRange { index: usize, count: usize },
    #[error(
        "--shard K/{count}: the plan has only {runs} run(s), so it cannot be split into {count} shards \
         (use N <= {runs})"
    )]
    TooManyShards { count: usize, runs: usize },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let index: usize = k.trim().parse().map_err(|_| syntax())?;
        let count: usize = n.trim().parse().map_err(|_| syntax())?;
        if index == 0 || count == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard's folder inside a sweep's output folder: `shard-K-of-N`.
    pub fn folder_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

/// The shard (1-based) of every run, for `count` shards over runs of the
/// given costs. With `count <= costs.len()` and positive costs, no shard is
/// empty: the first `count` runs taken go to `count` different shards.
pub fn assign(costs: &[u64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..costs.len()).collect();
    // Stable: equal costs keep plan order.
    order.sort_by_key(|&i| std::cmp::Reverse(costs[i]));
    let mut load = vec![0u64; count];
    let mut shard = vec![0; costs.len()];
    for i in order {
        let (best, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(k, l)| (*l, k))
            .unwrap_or((0, &0));
        load[best] = load[best].saturating_add(costs[i].max(1));
        shard[i] = best + 1;
    }
    shard
}

/// How a plan splits into `count` shards: the shard of every run and each
/// shard's estimated cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The shard (1-based) of every run, in plan order.
    pub shard_of: Vec<usize>,
    /// Runs per shard (index 0 is shard 1).
    pub runs: Vec<usize>,
    /// Estimated cost per shard, as a fraction of the whole plan's.
    pub share: Vec<f64>,
}

impl Split {
    /// The largest shard's cost over the mean shard's (1.0 is perfect).
    pub fn imbalance(&self) -> f64 {
        let max = self.share.iter().copied().fold(0.0, f64::max);
        max * self.share.len() as f64
    }
}

/// Splits `plan` into `count` shards by estimated cost.
pub fn split(plan: &Plan, count: usize) -> Result<Split, ShardError> {
    let runs = plan.runs.len();
    if count == 0 || count > runs {
        return Err(ShardError::TooManyShards { count, runs });
    }
    let costs: Vec<u64> = plan.runs.iter().map(|r| r.model.cost().total()).collect();
    let shard_of = assign(&costs, count);
    let total = costs.iter().map(|&c| c as f64).sum::<f64>().max(1.0);
    let mut split = Split {
        shard_of,
        runs: vec![0; count],
        share: vec![0.0; count],
    };
    for (&k, &c) in split.shard_of.iter().zip(&costs) {
        split.runs[k - 1] += 1;
        split.share[k - 1] += c as f64 / total;
    }
    Ok(split)
}

/// Keeps only shard `s`'s runs of `plan` (in plan order) and returns the
/// record its results carry.
pub fn select(plan: &mut Plan, s: Shard) -> Result<ShardRecord, ShardError> {
    let split = split(plan, s.count)?;
    let record = ShardRecord {
        index: s.index,
        count: s.count,
        plan: plan
            .runs
            .iter()
            .zip(&split.shard_of)
            .map(|(r, &k)| PlanEntry {
                id: r.spec.id.clone(),
                config_hash: r.hash.clone(),
                shard: k,
            })
            .collect(),
    };
    let mut keep = split.shard_of.iter().map(|&k| k == s.index);
    plan.runs.retain(|_| keep.next().unwrap_or(false));
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/8".parse(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["", "3", "a/b", "-1/3", "2/", "1.5/3"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))),
                "{bad:?}"
            );
        }
        for (k, n) in [(0, 3), (4, 3), (1, 0)] {
            assert_eq!(
                format!("{k}/{n}").parse::<Shard>(),
                Err(ShardError::OutOfRange { index: k, count: n })
            );
        }
        assert_eq!(Shard { index: 2, count: 3 }.to_string(), "2/3");
        assert_eq!(Shard { index: 2, count: 3 }.folder_name(), "shard-2-of-3");
    }

    #[test]
    fn assignment_balances_cost_and_leaves_no_shard_empty() {
        // One big run and many small ones: the big one gets a shard of its own.
        let costs = [100, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10];
        let a = assign(&costs, 2);
        assert_eq!(a[0], 1);
        assert!(a[1..].iter().all(|&k| k == 2), "{a:?}");
        // Equal costs: round robin in plan order.
        assert_eq!(assign(&[5; 7], 3), vec![1, 2, 3, 1, 2, 3, 1]);
        // Every shard gets a run whenever N <= runs, even with zero costs.
        for n in 1..=6 {
            let a = assign(&[0, 7, 3, 0, 1, 9], n);
            for k in 1..=n {
                assert!(a.contains(&k), "shard {k} of {n} empty: {a:?}");
            }
        }
        // Deterministic: the same input gives the same assignment.
        assert_eq!(assign(&costs, 3), assign(&costs, 3));
    }
}
