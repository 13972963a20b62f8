//! Matching the model card's channels to the signals of a source (an EDF file's labels, a
//! live stream's channel labels): exact label first, then the normalised label (trimmed,
//! trailing BCI2000 padding dots removed, case-insensitive: `C3..` matches `c3`, `Fcz.`
//! matches `FCz`).

/// A label normalised for matching: trimmed, trailing padding dots removed, lower case.
fn normalise(label: &str) -> String {
    label.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// For each card channel (in card order), the index of its signal in `labels`; or every card
/// channel that has none (in card order).
pub fn pick_channels<S: AsRef<str>>(
    channels: &[String],
    labels: &[S],
) -> Result<Vec<usize>, Vec<String>> {
    let mut picks = Vec::with_capacity(channels.len());
    let mut missing = Vec::new();
    for name in channels {
        let found = labels.iter().position(|l| l.as_ref() == name).or_else(|| {
            let n = normalise(name);
            labels.iter().position(|l| normalise(l.as_ref()) == n)
        });
        match found {
            Some(k) => picks.push(k),
            None => missing.push(name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(picks)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_normalised_and_every_missing_one() {
        let card: Vec<String> = ["C3..", "Fcz.", "Oz.."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            pick_channels(&card, &["x", "FCz", "C3..", "oz"]),
            Ok(vec![2, 1, 3])
        );
        assert_eq!(
            pick_channels(&card, &["C3", "T7"]),
            Err(vec!["Fcz.".to_string(), "Oz..".to_string()])
        );
    }
}
