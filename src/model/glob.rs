//! Glob patterns over parameter export keys (`blocks.*.fc2.weight`), as
//! Python's `fnmatch` reads them without character classes: `*` matches any
//! run of characters (dots included), `?` exactly one, everything else itself.

/// Whether `key` matches `pattern` as a whole.
pub fn matches(pattern: &str, key: &str) -> bool {
    let (p, k): (Vec<char>, Vec<char>) = (pattern.chars().collect(), key.chars().collect());
    // Iterative matching with one backtrack point: the last `*` seen.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < k.len() {
        if i < p.len() && (p[i] == '?' || p[i] == k[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            // Let the last `*` swallow one more character and retry.
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Up to `n` keys that look most like `pattern` (by edit distance of the
/// pattern with its wildcards removed), for "matches nothing" messages.
pub fn similar<'a>(pattern: &str, keys: &[&'a str], n: usize) -> Vec<&'a str> {
    let bare = strip_indices(&pattern.replace(['*', '?'], ""));
    // A leading `*` stands for any prefix: compare with every dotted suffix.
    let distance = |k: &str| {
        let k = strip_indices(k);
        let mut d = crate::suggest::edit_distance(&bare, &k);
        if pattern.starts_with('*') {
            for (i, _) in k.match_indices('.') {
                d = d.min(crate::suggest::edit_distance(
                    bare.trim_start_matches('.'),
                    &k[i + 1..],
                ));
            }
        }
        d
    };
    let mut scored: Vec<(usize, &str)> = keys.iter().map(|k| (distance(k), *k)).collect();
    scored.sort_by_key(|&(d, k)| (d, k.len()));
    let mut out: Vec<&str> = Vec::new();
    for (_, k) in scored {
        // One representative per shape: blocks.0.fc1.weight, not all twelve.
        if !out.iter().any(|o| strip_indices(o) == strip_indices(k)) {
            out.push(k);
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// `blocks.3.fc1.weight` → `blocks..fc1.weight` (indices removed), so that
/// a pattern with `*` where the index goes compares on the names alone.
fn strip_indices(key: &str) -> String {
    key.split('.')
        .map(|s| {
            if s.chars().all(|c| c.is_ascii_digit()) {
                ""
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("blocks.*.fc2.weight", "blocks.11.fc2.weight"));
        assert!(matches("*.weight", "blocks.0.ff_norm.weight"));
        assert!(matches("*", "input_proj.bias"));
        assert!(matches("blocks.?.fc1.*", "blocks.3.fc1.bias"));
        assert!(!matches("blocks.?.fc1.*", "blocks.10.fc1.bias"));
        assert!(!matches("blocks.*.fc2.weight", "blocks.1.fc2.bias"));
        assert!(!matches("fc2.weight", "blocks.1.fc2.weight"));
        assert!(matches("blocks.1*", "blocks.1"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }

    #[test]
    fn similar_keys_are_one_per_shape() {
        let keys = [
            "blocks.0.fc1.weight",
            "blocks.0.fc2.weight",
            "blocks.1.fc1.weight",
            "blocks.1.fc2.weight",
            "final_norm.weight",
        ];
        let s = similar("blocks.*.fc3.weight", &keys, 2);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|k| k.starts_with("blocks.0.")), "{s:?}");
        let s = similar("*norm.bias", &keys, 1);
        assert_eq!(s, ["final_norm.weight"]);
    }
}
