//! Parsing of `--subjects`: `N` (subjects 1..=N, the reference's `sample_size`), or a list of
//! ids and ranges (`1-10,12,15`).

/// Parses a `--subjects` value into ascending, de-duplicated ids.
pub fn parse_subjects(s: &str) -> Result<Vec<u32>, String> {
    let bad =
        || format!("invalid --subjects '{s}': expected N (subjects 1..=N) or a list like 1-10,12");
    let s = s.trim();
    if !s.contains([',', '-']) {
        let n: u32 = s.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        return Ok((1..=n).collect());
    }
    let mut ids = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a == 0 || a > b {
                    return Err(bad());
                }
                ids.extend(a..=b);
            }
            None => ids.push(part.parse().map_err(|_| bad())?),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids[0] == 0 {
        return Err(bad());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::parse_subjects;

    #[test]
    fn parses_count_and_lists() {
        assert_eq!(parse_subjects("3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_subjects("5-7,2,6").unwrap(), vec![2, 5, 6, 7]);
        assert!(parse_subjects("0").is_err());
        assert!(parse_subjects("x").is_err());
        assert!(parse_subjects("4-2").is_err());
    }
}
