//! Matching feature names as people type them: Vietnamese names without their diacritics
//! ("Truong Tien" for "Trường Tiền"), in any case, with any spacing; and suggestions of close
//! names when nothing matches.
//!
//! ```
//! use twin_core::names::{fold, same_name, suggest};
//! assert_eq!(fold("Cầu Trường Tiền"), "cau truong tien");
//! assert_eq!(fold("Đường Lê Lợi"), "duong le loi");
//! assert!(same_name("truong  TIEN", "Trường Tiền"));
//! let names = ["Cầu Trường Tiền", "Lê Lợi", "Đống Đa"];
//! assert_eq!(suggest("Truong Tien", names, 3), vec!["Cầu Trường Tiền"]);
//! ```

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// A name reduced for comparison: diacritics dropped (canonical decomposition, combining marks
/// removed; `đ`/`Đ`, which do not decompose, become `d`), lower case, runs of whitespace and
/// punctuation made one space, trimmed.
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for c in name.nfd().filter(|c| !is_combining_mark(*c)) {
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// True when `a` and `b` are the same name once [`fold`]ed.
pub fn same_name(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

/// The names closest to `query`, at most `max`, best first, each once: names whose folded form
/// contains the folded query (or is contained in it) first, then those within a small edit
/// distance of it (normalised Damerau-Levenshtein similarity of at least 0.7 on the folded
/// forms, so "Trang Tien" finds "Trường Tiền"). Empty when nothing is close.
pub fn suggest<'a>(
    query: &str,
    names: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<&'a str> {
    let q = fold(query);
    if q.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(u8, f64, &str)> = Vec::new();
    for n in names {
        if scored.iter().any(|s| s.2 == n) {
            continue;
        }
        let f = fold(n);
        if f.is_empty() {
            continue;
        }
        let score = if f == q {
            Some((0, 1.0))
        } else if f.contains(&q) || q.contains(&f) {
            Some((1, q.len().min(f.len()) as f64 / q.len().max(f.len()) as f64))
        } else {
            // The best of the whole name and each run of as many words as the query has.
            let words: Vec<&str> = f.split(' ').collect();
            let k = q.split(' ').count().min(words.len());
            let best = words
                .windows(k)
                .map(|w| strsim::normalized_damerau_levenshtein(&q, &w.join(" ")))
                .fold(strsim::normalized_damerau_levenshtein(&q, &f), f64::max);
            (best >= 0.7).then_some((2, best))
        };
        if let Some((tier, s)) = score {
            scored.push((tier, s, n));
        }
    }
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(b.2)));
    scored.into_iter().take(max).map(|s| s.2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_every_vietnamese_letter() {
        assert_eq!(
            fold("ăâđêôơư ĂÂĐÊÔƠƯ àáảãạ ằắẳẵặ ầấẩẫậ èéẻẽẹ ềếểễệ ìíỉĩị òóỏõọ ồốổỗộ ờớởỡợ ùúủũụ ừứửữự ỳýỷỹỵ"),
            "aadeoou aadeoou aaaaa aaaaa aaaaa eeeee eeeee iiiii ooooo ooooo ooooo uuuuu uuuuu yyyyy"
        );
        assert_eq!(fold("  Lê-Lợi,  Huế "), "le loi hue");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn suggests_close_names() {
        let names = [
            "Cầu Trường Tiền",
            "Lê Lợi",
            "Đống Đa",
            "Trần Hưng Đạo",
            "Cầu Phú Xuân",
        ];
        assert_eq!(suggest("Truong Tien", names, 3), vec!["Cầu Trường Tiền"]);
        assert_eq!(suggest("Trang Tien", names, 3), vec!["Cầu Trường Tiền"]);
        assert_eq!(suggest("dong da", names, 3), vec!["Đống Đa"]);
        assert_eq!(suggest("Tran Hung Dao", names, 3), vec!["Trần Hưng Đạo"]);
        assert_eq!(
            suggest("cau", names, 3),
            vec!["Cầu Phú Xuân", "Cầu Trường Tiền"]
        );
        assert!(suggest("Nguyen Hue", names, 3).is_empty());
    }
}
