//! Highlighting matched words in titles and snippets: escaped HTML with `<mark>` around every
//! word that starts with a searched term (case and accents ignored, as in matching).
use crate::kernel::i18n::fold;

/// The most terms a search takes.
pub const MAX_TERMS: usize = 10;

/// The searched terms: the folded words (letters and digits) of a query, without repeats.
pub fn terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in fold(query).split(|c: char| !c.is_alphanumeric()) {
        if !word.is_empty() && !terms.iter().any(|t| t == word) {
            terms.push(word.to_owned());
        }
    }
    terms.truncate(MAX_TERMS);
    terms
}

/// Escapes text for HTML text content (never attribute values).
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
}

/// The words of a text with their byte ranges.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    words
}

fn matches(word: &str, terms: &[String]) -> bool {
    let folded = fold(word);
    terms.iter().any(|t| folded.starts_with(t.as_str()))
}

/// The whole text, escaped, with matching words marked.
pub fn highlight(text: &str, terms: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (start, end) in words(text) {
        if matches(&text[start..end], terms) {
            escape(&text[at..start], &mut out);
            out.push_str("<mark>");
            escape(&text[start..end], &mut out);
            out.push_str("</mark>");
            at = end;
        }
    }
    escape(&text[at..], &mut out);
    out
}

/// About `width` characters of the text around its first match, escaped and marked, with `…`
/// where it was cut; the start of the text when nothing matches.
pub fn snippet(text: &str, terms: &[String], width: usize) -> String {
    let spans = words(text);
    let first = spans
        .iter()
        .find(|(s, e)| matches(&text[*s..*e], terms))
        .map(|(s, _)| *s)
        .unwrap_or(0);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let position = chars.iter().position(|(i, _)| *i >= first).unwrap_or(0);
    let begin = position.saturating_sub(width / 3);
    let end = (begin + width).min(chars.len());
    // Widen to word boundaries, so no word is cut in half.
    let mut begin = begin;
    while begin > 0 && chars[begin - 1].1.is_alphanumeric() {
        begin -= 1;
    }
    let mut end = end;
    while end < chars.len() && chars[end].1.is_alphanumeric() {
        end += 1;
    }
    let from = chars.get(begin).map(|(i, _)| *i).unwrap_or(0);
    let to = chars.get(end).map(|(i, _)| *i).unwrap_or(text.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.push_str(&highlight(&text[from..to], terms));
    if to < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_words_by_folded_prefix() {
        let t = terms("Bethanienpolder HERSTEL herstel");
        assert_eq!(t, ["bethanienpolder", "herstel"]);
        assert_eq!(
            highlight("In Bethaniënpolder: <herstelplaats> & meer", &t),
            "In <mark>Bethaniënpolder</mark>: &lt;<mark>herstelplaats</mark>&gt; &amp; meer"
        );
    }

    #[test]
    fn cuts_a_window_around_the_first_match() {
        let text = format!(
            "{} repair café {}",
            "word ".repeat(100),
            "tail ".repeat(100)
        );
        let s = snippet(&text, &terms("repair"), 60);
        assert!(s.starts_with('…') && s.ends_with('…'));
        assert!(s.contains("<mark>repair</mark>"));
        assert!(s.chars().count() < 120);
        assert_eq!(snippet("short text", &terms("nothing"), 60), "short text");
    }
}
