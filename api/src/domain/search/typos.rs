//! Typo suggestions: the last tier of a search. Each word of a query that finds nothing is
//! compared with the words of the index that its reader may find (`search_word`) that start
//! with the same letter and are of a similar length, and with the parts of longer words that
//! start with its first three letters ("biblioteek" and the "bibliotheek" in
//! "gereedschapsbibliotheek"), and replaced by the closest one: by trigram
//! similarity (as PostgreSQL's `pg_trgm` measures it), or one slip of the keys (a letter
//! missing, extra, wrong or two swapped: "repiar", "biblioteek", "Mechlen"). Computed here
//! rather than in SQL so that both databases suggest the same words.
use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, DbErr};

/// Shortest word corrected: shorter ones are too often right as they are.
const MIN_CHARS: usize = 4;
/// How far a suggestion's length may be from the word's.
const LENGTH_SLACK: i64 = 3;
/// Least trigram similarity of a suggestion that is more than one slip away.
const MIN_SIMILARITY: f64 = 0.5;

/// The most slips a word of this many letters may hold and still be corrected: one in a short
/// word, two from seven letters, three from twelve.
fn allowed_slips(length: usize) -> usize {
    match length {
        0..=6 => 1,
        7..=11 => 2,
        _ => 3,
    }
}

/// `terms` with each word that the index does not hold (as a word or the start of one)
/// replaced by the closest word it holds; the same terms when there is nothing better.
pub async fn correct(
    db: &impl ConnectionTrait,
    terms: &[String],
    visibility: &[&str],
) -> Result<Vec<String>, DbErr> {
    let mut corrected = Vec::with_capacity(terms.len());
    for term in terms {
        corrected.push(match closest(db, term, visibility).await? {
            Some(word) => word,
            None => term.clone(),
        });
    }
    Ok(corrected)
}

async fn closest(
    db: &impl ConnectionTrait,
    term: &str,
    visibility: &[&str],
) -> Result<Option<String>, DbErr> {
    let length = term.chars().count();
    let Some(first) = term.chars().next() else {
        return Ok(None);
    };
    if length < MIN_CHARS {
        return Ok(None);
    }
    let start: String = term.chars().take(3).collect();
    let similar_length = Expr::expr(Func::char_length(Expr::col("word")))
        .between(length as i64 - LENGTH_SLACK, length as i64 + LENGTH_SLACK);
    // Terms hold letters and digits only: no LIKE wildcards to escape.
    let select = Query::select()
        .distinct()
        .column("word")
        .from("search_word")
        .and_where(Expr::col("visibility").is_in(visibility.iter().copied()))
        .and_where(
            Expr::col("word")
                .like(format!("{first}%"))
                .and(similar_length)
                .or(Expr::col("word").like(format!("_%{start}%"))),
        )
        .to_owned();
    let rows = db.query_all(&select).await?;
    let mut best: Option<(usize, f64, String)> = None;
    for row in rows {
        let word: String = row.try_get("", "word")?;
        if word.contains(term) {
            // Held as typed (a word, its start or a part of one): not a typo.
            return Ok(None);
        }
        for candidate in candidates(&word, term, &start, length) {
            let edits = slips(term, &candidate);
            let similarity = similarity(term, &candidate);
            if edits > allowed_slips(length) || (edits > 1 && similarity < MIN_SIMILARITY) {
                continue;
            }
            let better = match &best {
                None => true,
                Some((best_edits, best_similarity, best_word)) => {
                    (edits, -similarity, &candidate) < (*best_edits, -best_similarity, best_word)
                }
            };
            if better {
                best = Some((edits, similarity, candidate));
            }
        }
    }
    Ok(best.map(|(_, _, word)| word))
}

/// What a word offers as a correction of `term`: itself when it starts alike, and its parts
/// from each place `start` (the term's first three letters) appears in it, of lengths near
/// the term's.
fn candidates(word: &str, term: &str, start: &str, length: usize) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    if term.chars().next() == chars.first().copied()
        && (chars.len() as i64 - length as i64).abs() <= LENGTH_SLACK
    {
        out.push(word.to_owned());
    }
    let start: Vec<char> = start.chars().collect();
    for at in 1..chars.len() {
        if !chars[at..].starts_with(&start) {
            continue;
        }
        let shortest = length
            .saturating_sub(LENGTH_SLACK as usize)
            .max(start.len());
        for len in shortest..=length + LENGTH_SLACK as usize {
            if at + len <= chars.len() {
                out.push(chars[at..at + len].iter().collect());
            }
        }
    }
    out
}

/// The trigrams of a word as `pg_trgm` takes them: padded with two spaces before, one after.
fn trigrams(word: &str) -> BTreeSet<[char; 3]> {
    let padded: Vec<char> = "  ".chars().chain(word.chars()).chain([' ']).collect();
    padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// Shared trigrams over all trigrams of the two words, 0 to 1.
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (trigrams(a), trigrams(b));
    let shared = a.intersection(&b).count();
    let all = a.union(&b).count();
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

/// Edits between two words (inserted, deleted or replaced letters, two neighbours swapped):
/// the optimal-string-alignment distance.
fn slips(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slips_count_one_per_missing_extra_wrong_or_swapped_letter() {
        assert_eq!(slips("repiar", "repair"), 1);
        assert_eq!(slips("biblioteek", "bibliotheek"), 1);
        assert_eq!(slips("mechlen", "mechelen"), 1);
        assert_eq!(slips("repair", "repair"), 0);
        assert_eq!(slips("kast", "kist"), 1);
        assert_eq!(slips("abc", "xyz"), 3);
    }

    #[test]
    fn parts_of_longer_words_are_offered() {
        let offered = candidates("gereedschapsbibliotheek", "biblioteek", "bib", 10);
        assert!(offered.contains(&"bibliotheek".to_owned()), "{offered:?}");
        assert!(candidates("mechelen", "mechlen", "mec", 7).contains(&"mechelen".to_owned()));
    }

    #[test]
    fn similarity_is_pg_trgm_s() {
        // pg_trgm: similarity('biblioteek', 'bibliotheek') = 0.64285713
        assert!((similarity("biblioteek", "bibliotheek") - 9.0 / 14.0).abs() < 1e-9);
        assert_eq!(similarity("repair", "repair"), 1.0);
        assert!(similarity("repair", "mechelen") < 0.1);
    }
}
