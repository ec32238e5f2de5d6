//! Cron expressions in words, for the schedules page, in the page's language:
//! `*/10 * * * * *` reads "Every 10 seconds" or "10 секунд тутам", `0 3 * * *` "At 03:00,
//! every day" or "Өдөр бүр 03:00 цагт". croner's describer does the parsing and the
//! English, which is smoothed where it reads oddly ("At every 10 seconds"); the Mongolian
//! is built in the `mongolian` module, whose word order differs.

use std::str::FromStr;

use app::i18n::Language;
use croner::Cron;

mod mongolian;

/// The expression in words in `language`, or `None` when croner cannot read it (the page
/// then shows the expression alone).
pub fn describe(expression: &str, language: Language) -> Option<String> {
    let cron = Cron::from_str(expression).ok()?;
    Some(match language {
        Language::En => english(&cron),
        Language::Mn => mongolian::describe(&cron),
    })
}

fn english(cron: &Cron) -> String {
    let words = cron.describe();
    let words = words.strip_suffix('.').unwrap_or(&words);
    let mut words = if let Some(rest) = words.strip_prefix("At every ") {
        format!("Every {rest}")
    } else if let Some(rest) = words.strip_prefix("At minute 0 past every hour") {
        format!("Every hour, on the hour{rest}")
    } else if let Some(rest) = words.strip_prefix("At minute 0, of every ") {
        format!("Every {rest}, on the hour")
    } else if let Some((minute, rest)) =
        words.strip_prefix("At minute ").and_then(|rest| rest.split_once(" past every hour"))
    {
        format!("Every hour at minute {minute}{rest}")
    } else {
        words.to_string()
    };
    // A fixed time with no day, month or year part fires daily: say so.
    if matches!(cron.determine_job_type(), croner::JobType::FixedTime) && !words.contains(", ") {
        words.push_str(", every day");
    }
    words
}

#[cfg(test)]
mod tests {
    use super::describe;
    use app::i18n::Language::{En, Mn};

    #[test]
    fn common_expressions_read_as_sentences() {
        for (expression, words) in [
            ("*/10 * * * * *", "Every 10 seconds"),
            ("0 */5 * * * *", "Every 5 minutes"),
            ("* * * * *", "Every minute"),
            ("0 * * * *", "Every hour, on the hour"),
            ("15 * * * *", "Every hour at minute 15"),
            ("0 */4 * * *", "Every 4 hours, on the hour"),
            ("0 5 * * 0", "At 05:00, on Sunday"),
            ("0 3 * * *", "At 03:00, every day"),
            ("0 0 9 * * MON-FRI", "At 09:00, on Monday, Tuesday, Wednesday, Thursday, and Friday"),
            ("30 2 1 * *", "At 02:30, on day 1"),
        ] {
            assert_eq!(describe(expression, En).as_deref(), Some(words), "{expression}");
        }
        assert_eq!(describe("not cron", En), None);
    }

    #[test]
    fn common_expressions_read_as_mongolian_sentences() {
        for (expression, words) in [
            ("*/10 * * * * *", "10 секунд тутам"),
            ("0 */5 * * * *", "5 минут тутам"),
            ("* * * * *", "Минут бүр"),
            ("* * * * * *", "Секунд бүр"),
            ("0 * * * *", "Цаг бүрийн эхэнд"),
            ("15 * * * *", "Цаг бүрийн 15 дахь минутад"),
            ("15,45 * * * *", "Цаг бүрийн 15, 45 дахь минутад"),
            ("1,41 * * * *", "Цаг бүрийн 1, 41 дэх минутад"),
            ("10-20 * * * *", "Цаг бүрийн 10-20 дахь минутад"),
            ("0 */4 * * *", "4 цаг тутам, цагийн эхэнд"),
            ("30 */2 * * *", "2 цаг тутам, цагийн 30 дахь минутад"),
            ("0 3 * * *", "Өдөр бүр 03:00 цагт"),
            ("0 9,17 * * *", "Өдөр бүр 09:00, 17:00 цагт"),
            ("30 0 14 * * *", "Өдөр бүр 14:00:30 цагт"),
            ("0 9-17 * * *", "Өдөр бүр 9-17 цагийн эхэнд"),
            ("*/5 9-17 * * *", "Өдөр бүр 9-17 цагт 5 минут тутам"),
            ("* 0 * * *", "Өдөр бүр 0 цагт минут бүр"),
            ("0,30 * * * * *", "Минут бүрийн 0, 30 дахь секундэд"),
            ("0 5 * * 0", "Ням гаригт 05:00 цагт"),
            ("0 0 9 * * MON-FRI", "Даваа, Мягмар, Лхагва, Пүрэв, Баасан гаригт 09:00 цагт"),
            ("0 10 * * SAT,SUN", "Бямба, Ням гаригт 10:00 цагт"),
            ("*/15 * * * MON", "Даваа гаригт 15 минут тутам"),
            ("30 2 1 * *", "Сар бүрийн 1-ний 02:30 цагт"),
            ("0 0 1 * *", "Сар бүрийн 1-ний 00:00 цагт"),
            ("0 8 1,15 * *", "Сар бүрийн 1, 15-ны 08:00 цагт"),
            ("0 * 1 * *", "Сар бүрийн 1-ний өдөр цаг бүрийн эхэнд"),
            ("0 0 1 1 *", "1-р сарын 1-ний 00:00 цагт"),
            ("0 12 * 6-8 *", "6, 7, 8-р сард өдөр бүр 12:00 цагт"),
            ("*/5 * * 1 *", "1-р сард 5 минут тутам"),
            ("0 0 1 */3 *", "3 сар тутам, сарын 1-ний 00:00 цагт"),
            ("0 3 */2 * *", "2 өдөр тутам 03:00 цагт"),
            ("0 0 15 * FRI", "Сар бүрийн 15-ны өдөр эсвэл Баасан гаригт 00:00 цагт"),
            ("0 0 L * *", "Сарын сүүлийн өдөр 00:00 цагт"),
            ("30 18 15,L MAR *", "3-р сарын 15-ны өдөр болон сарын сүүлийн өдөр 18:30 цагт"),
            ("0 0 * * 5L", "Сарын сүүлийн Баасан гаригт 00:00 цагт"),
            ("0 0 * * MON#1", "Сарын эхний Даваа гаригт 00:00 цагт"),
            ("0 9 15W * *", "Сарын 15-нд хамгийн ойр ажлын өдөр 09:00 цагт"),
            ("0 0 15 * +FRI", "Сарын 15-ны өдөр Баасан гариг таарвал 00:00 цагт"),
            ("0 0 0 1 1 * 2030", "2030 оны 1-р сарын 1-ний 00:00 цагт"),
        ] {
            assert_eq!(describe(expression, Mn).as_deref(), Some(words), "{expression}");
        }
        assert_eq!(describe("not cron", Mn), None);
    }

    /// Every shape a field can take, in every field: always some Mongolian words, with no
    /// Latin letters and no loose punctuation.
    #[test]
    fn generated_expressions_read_as_mongolian() {
        // (min, max) of second, minute, hour, day of month, month, day of week.
        const FIELDS: [(u32, u32); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: u32| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % u64::from(bound)) as u32
        };
        let mut checked = 0;
        for i in 0..600 {
            let fields: Vec<String> = FIELDS
                .iter()
                .map(|&(min, max)| {
                    let span = max - min + 1;
                    let (a, b) = (min + next(span), min + next(span));
                    let (low, high) = (a.min(b), a.max(b));
                    match next(6) {
                        0 | 1 => "*".to_string(),
                        2 => format!("*/{}", 2 + next(span / 2)),
                        3 => format!("{low}-{high}"),
                        4 => format!("{low},{high}"),
                        _ => a.to_string(),
                    }
                })
                .collect();
            // Every other expression has no seconds field.
            let expression = if i % 2 == 0 { fields.join(" ") } else { fields[1..].join(" ") };
            let Some(words) = describe(&expression, Mn) else { continue };
            checked += 1;
            assert!(!words.is_empty(), "{expression}");
            assert!(!words.chars().any(|c| c.is_ascii_alphabetic()), "{expression}: {words}");
            assert!(!words.starts_with(char::is_lowercase), "{expression}: {words}");
            for bad in ["  ", " ,", ",,", ", ,"] {
                assert!(!words.contains(bad), "{expression}: {words}");
            }
            assert!(!words.ends_with([',', ' ']), "{expression}: {words}");
        }
        assert!(checked >= 300, "only {checked} expressions parsed");
        // Modifiers and the AND of day fields go through croner's describer.
        for expression in [
            "0 0 L * *",
            "0 0 LW * *",
            "0 0 * * 5L",
            "0 0 * * FRI#L,MON#1",
            "0 0 1 * +FRI#L,MON#1",
            "0 0 L 2 5#3",
            "* * ? * *",
            "@weekly",
            "@yearly",
        ] {
            let words = describe(expression, Mn).unwrap();
            assert!(!words.chars().any(|c| c.is_ascii_alphabetic()), "{expression}: {words}");
        }
    }
}
