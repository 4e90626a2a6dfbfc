//! How `scale count` converges a group's Machines per region (reference
//! §5.7): trim regions above `--max-per-region`, add round-robin over the
//! region list in order, remove round-robin starting from the second region.

use std::collections::BTreeMap;

use crate::error::CliError;

/// Machines to add (positive) or remove (negative) per region.
pub(crate) type RegionDeltas = BTreeMap<String, i64>;

/// The changes that take `current` (Machines per region) to `total`
/// Machines over `regions`; regions not listed are left alone.
pub(crate) fn converge(
    current: &BTreeMap<String, i64>,
    regions: &[String],
    total: i64,
    max_per_region: Option<i64>,
) -> Result<RegionDeltas, CliError> {
    if regions.is_empty() {
        return Err(CliError::InvalidArguments(
            "no region to scale in: pass --region REGION".into(),
        ));
    }
    if let Some(max) = max_per_region {
        if max.saturating_mul(regions.len() as i64) < total {
            return Err(CliError::InvalidArguments(format!(
                "cannot place {total} Machines in {} region(s) with --max-per-region {max}: \
                 raise --max-per-region or add regions",
                regions.len()
            )));
        }
    }
    let mut counts: Vec<i64> = regions
        .iter()
        .map(|r| current.get(r).copied().unwrap_or(0))
        .collect();
    if let Some(max) = max_per_region {
        for count in &mut counts {
            *count = (*count).min(max);
        }
    }
    let mut have: i64 = counts.iter().sum();
    let cap = max_per_region.unwrap_or(i64::MAX);
    let mut index = 0;
    while have < total {
        if counts[index] < cap {
            counts[index] += 1;
            have += 1;
        }
        index = (index + 1) % counts.len();
    }
    let mut index = 1 % counts.len();
    while have > total {
        if counts[index] > 0 {
            counts[index] -= 1;
            have -= 1;
        }
        index = (index + 1) % counts.len();
    }
    Ok(regions
        .iter()
        .zip(counts)
        .filter_map(|(region, want)| {
            let delta = want - current.get(region).copied().unwrap_or(0);
            (delta != 0).then(|| (region.clone(), delta))
        })
        .collect())
}

/// `N`, `+N`, `-N` (relative to `current`) or `GROUP=N` targets.
pub(crate) fn parse_targets(
    args: &[String],
    group_flag: Option<&str>,
    current_total: &dyn Fn(&str) -> i64,
) -> Result<BTreeMap<String, i64>, CliError> {
    let bad = |text: &str| {
        CliError::InvalidArguments(format!(
            "invalid count {text:?}: write a number (3), a change (+1, -1), or GROUP=N \
             for each process group (app=2 worker=1)"
        ))
    };
    let mut targets = BTreeMap::new();
    if let [single] = args {
        if !single.contains('=') {
            let group = group_flag.unwrap_or(hangar_config::DEFAULT_GROUP);
            let count = match single.as_bytes().first() {
                Some(b'+') | Some(b'-') => {
                    let change: i64 = single.parse().map_err(|_| bad(single))?;
                    current_total(group) + change
                }
                _ => single.parse().map_err(|_| bad(single))?,
            };
            if count < 0 {
                return Err(CliError::InvalidArguments(format!(
                    "{single} would leave group {group} with {count} Machines"
                )));
            }
            targets.insert(group.to_string(), count);
            return Ok(targets);
        }
    }
    if group_flag.is_some() {
        return Err(CliError::InvalidArguments(
            "--process-group goes with a single count (`scale count 2 -g worker`), not with \
             GROUP=N"
                .into(),
        ));
    }
    for arg in args {
        let (group, count) = arg.split_once('=').ok_or_else(|| bad(arg))?;
        let count: i64 = count.parse().map_err(|_| bad(arg))?;
        if group.is_empty() || count < 0 {
            return Err(bad(arg));
        }
        targets.insert(group.to_string(), count);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(r, n)| (r.to_string(), *n)).collect()
    }

    #[test]
    fn adds_round_robin_in_list_order() {
        let plan = converge(&counts(&[]), &regions(&["scl", "iad"]), 3, None).unwrap();
        assert_eq!(plan, counts(&[("scl", 2), ("iad", 1)]));
    }

    #[test]
    fn removes_starting_from_the_second_region() {
        let current = counts(&[("scl", 1), ("iad", 1)]);
        let plan = converge(&current, &regions(&["scl", "iad"]), 1, None).unwrap();
        assert_eq!(plan, counts(&[("iad", -1)]));
        let plan = converge(&current, &regions(&["iad", "scl"]), 1, None).unwrap();
        assert_eq!(plan, counts(&[("scl", -1)]));
        let plan = converge(&current, &regions(&["scl"]), 0, None).unwrap();
        assert_eq!(plan, counts(&[("scl", -1)]));
    }

    #[test]
    fn max_per_region_trims_and_bounds() {
        let current = counts(&[("scl", 3)]);
        let plan = converge(&current, &regions(&["scl", "iad"]), 4, Some(2)).unwrap();
        assert_eq!(plan, counts(&[("scl", -1), ("iad", 2)]));
        assert!(converge(&current, &regions(&["scl"]), 3, Some(2)).is_err());
    }

    #[test]
    fn targets_parse() {
        let none = |_: &str| 2;
        assert_eq!(
            parse_targets(&["3".into()], None, &none).unwrap(),
            counts(&[("app", 3)])
        );
        assert_eq!(
            parse_targets(&["+1".into()], Some("worker"), &none).unwrap(),
            counts(&[("worker", 3)])
        );
        assert_eq!(
            parse_targets(&["web=2".into(), "worker=0".into()], None, &none).unwrap(),
            counts(&[("web", 2), ("worker", 0)])
        );
        assert!(parse_targets(&["-3".into()], None, &none).is_err());
        assert!(parse_targets(&["x".into()], None, &none).is_err());
        assert!(parse_targets(&["web=2".into()], Some("web"), &none).is_err());
    }
}
