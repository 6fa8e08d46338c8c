//! Right-to-left runs in visual order, for one line of a left-to-right ticket.
//!
//! PDF text is drawn left to right as given, so Hebrew or Arabic in logical order would come out
//! mirrored. This is the core of the Unicode bidi algorithm (UAX #9) for a left-to-right
//! paragraph without explicit embeddings: strong right-to-left letters, numbers following them
//! and the neutrals between them are reversed as a run, numbers keep their digit order, paired
//! brackets are mirrored, and combining marks stay after their base. Arabic is not shaped (no
//! joining forms): its letters are in the right order but drawn in their isolated forms.

use std::borrow::Cow;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Left,
    Right,
    Number,
    Neutral,
    Mark,
}

fn is_rtl(c: char) -> bool {
    matches!(
        c,
        '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}'
    ) && !is_mark(c)
        && !matches!(c, '\u{0660}'..='\u{0669}' | '\u{06F0}'..='\u{06F9}')
}

fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{0591}'..='\u{05BD}'
            | '\u{05BF}'
            | '\u{05C1}'..='\u{05C2}'
            | '\u{05C4}'..='\u{05C5}'
            | '\u{05C7}'
            | '\u{0610}'..='\u{061A}'
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{06D6}'..='\u{06DC}'
            | '\u{06DF}'..='\u{06E4}'
            | '\u{06E7}'..='\u{06E8}'
            | '\u{06EA}'..='\u{06ED}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

fn class(c: char) -> Class {
    if is_mark(c) {
        Class::Mark
    } else if is_rtl(c) {
        Class::Right
    } else if c.is_ascii_digit() || matches!(c, '\u{0660}'..='\u{0669}' | '\u{06F0}'..='\u{06F9}') {
        Class::Number
    } else if c.is_alphanumeric() {
        Class::Left
    } else {
        Class::Neutral
    }
}

fn mirror(c: char) -> char {
    match c {
        '(' => ')',
        ')' => '(',
        '[' => ']',
        ']' => '[',
        '{' => '}',
        '}' => '{',
        '<' => '>',
        '>' => '<',
        '\u{AB}' => '\u{BB}',
        '\u{BB}' => '\u{AB}',
        other => other,
    }
}

/// `text` (one line) in the order to draw it left to right.
pub fn visual(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_rtl) {
        return Cow::Borrowed(text);
    }
    // Clusters: a base character and the combining marks after it move together.
    let mut clusters: Vec<(usize, usize, Class)> = Vec::new();
    for (index, c) in text.char_indices() {
        let end = index + c.len_utf8();
        match (class(c), clusters.last_mut()) {
            (Class::Mark, Some(last)) => last.1 = end,
            (Class::Mark, None) => clusters.push((index, end, Class::Neutral)),
            (class, _) => clusters.push((index, end, class)),
        }
    }

    // Numbers after right-to-left text stay numbers (level 2), otherwise they are left-to-right.
    let mut previous_strong = Class::Left;
    let mut levels: Vec<u8> = clusters
        .iter()
        .map(|&(_, _, class)| match class {
            Class::Right => {
                previous_strong = Class::Right;
                1
            }
            Class::Left => {
                previous_strong = Class::Left;
                0
            }
            Class::Number if previous_strong == Class::Right => 2,
            Class::Number => 0,
            _ => u8::MAX, // neutral, resolved below
        })
        .collect();
    // Neutrals between two right-to-left sides (numbers count as right-to-left here) join them;
    // otherwise they take the paragraph's left-to-right level. The line's ends count as left.
    let mut index = 0;
    while index < levels.len() {
        if levels[index] != u8::MAX {
            index += 1;
            continue;
        }
        let start = index;
        while index < levels.len() && levels[index] == u8::MAX {
            index += 1;
        }
        let before = start.checked_sub(1).map(|i| levels[i] >= 1);
        let after = levels.get(index).map(|&level| level >= 1);
        let level = u8::from(before == Some(true) && after == Some(true));
        levels[start..index].fill(level);
    }

    // Reverse every maximal run at level 2 or more, then at level 1 or more.
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    for threshold in [2, 1] {
        let mut at = 0;
        while at < order.len() {
            if levels[order[at]] < threshold {
                at += 1;
                continue;
            }
            let start = at;
            while at < order.len() && levels[order[at]] >= threshold {
                at += 1;
            }
            order[start..at].reverse();
        }
    }

    let mut out = String::with_capacity(text.len());
    for cluster in order {
        let (start, end, _) = clusters[cluster];
        let piece = &text[start..end];
        if levels[cluster] % 2 == 1 {
            out.extend(piece.chars().map(mirror));
        } else {
            out.push_str(piece);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::visual;

    #[test]
    fn left_to_right_text_is_untouched() {
        assert!(matches!(
            visual("Zoë Ångström (2026)"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn right_to_left_runs_are_reversed_in_place() {
        assert_eq!(visual("שלום"), "םולש");
        // A number after right-to-left text joins its run (UAX #9 rules W2, N1).
        assert_eq!(visual("Hall שלום עולם 5"), "Hall 5 םלוע םולש");
        // Numbers inside keep their digit order; brackets are mirrored.
        assert_eq!(visual("אב 123 גד"), "דג 123 בא");
        assert_eq!(visual("(אב)"), "(בא)");
        // Marks stay after their base letter.
        assert_eq!(
            visual("\u{05E9}\u{05B8}\u{05C1}\u{05DC}\u{05D5}\u{05B9}\u{05DD}"),
            "\u{05DD}\u{05D5}\u{05B9}\u{05DC}\u{05E9}\u{05B8}\u{05C1}"
        );
    }
}
