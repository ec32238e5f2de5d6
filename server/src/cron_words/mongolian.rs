//! Cron expressions in Mongolian. The word order is not English's: the year, month and
//! day come first and the time last ("Сар бүрийн 1-ний 02:30 цагт"), and a repeating part
//! owns the finer part after it ("Цаг бүрийн 15 дахь минутад"). So the sentence is built
//! here from the parsed fields; croner's describer, speaking [`Mongolian`], words only what
//! the fields cannot tell plainly (`L`, `W`, `#` and a `+` day-of-week), and the whole
//! expression should anything else be unexpected.

use std::str::FromStr;

use croner::describe::Language;
use croner::{Cron, CronComponent, CronPattern};

/// Weekday names, Sunday first as croner numbers them.
const WEEKDAYS: [&str; 7] = ["Ням", "Даваа", "Мягмар", "Лхагва", "Пүрэв", "Баасан", "Бямба"];

/// The expression in Mongolian words.
pub(super) fn describe(cron: &Cron) -> String {
    compose(cron).unwrap_or_else(|| croner_words(cron))
}

/// croner's own sentence in [`Mongolian`], without its full stop or the comma croner
/// puts before the last item of a list ("1, 3, болон 5").
fn croner_words(cron: &Cron) -> String {
    let words = cron.describe_lang(Mongolian).replace(", болон ", " болон ");
    words.strip_suffix('.').unwrap_or(&words).to_string()
}

/// What a field matches.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// Every value (`*`).
    All,
    /// Every `n`th value from the first (`*/n`).
    Step(u16),
    /// These values, ascending (never empty).
    Values(Vec<u16>),
}

/// The field's kind; `None` when it matches no plain value (only `L`, `W` or `#`).
fn kind(field: &CronComponent) -> Option<Kind> {
    let values = field.values();
    if values.is_empty() {
        return None;
    }
    if values.len() == usize::from(field.max - field.min) + 1 {
        return Some(Kind::All);
    }
    if field.step > 1
        && values.len() > 1
        && values.iter().copied().eq((field.min..=field.max).step_by(usize::from(field.step)))
    {
        return Some(Kind::Step(field.step));
    }
    Some(Kind::Values(values))
}

/// Numbers with runs of three or more as ranges: "1, 5-9, 15".
fn number_list(values: &[u16]) -> String {
    let mut items = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            items.push(format!("{}-{}", values[i], values[j]));
            i = j + 1;
        } else {
            items.push(values[i].to_string());
            i += 1;
        }
    }
    items.join(", ")
}

/// The last number in `text`, whose spoken form picks a suffix's vowels.
fn last_number(text: &str) -> u16 {
    let digits: String =
        text.chars().rev().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
    digits.chars().rev().collect::<String>().parse().unwrap_or(0)
}

/// "дэх" or "дахь" after `n` (under 100), as "1 дэх", "15 дахь": front vowels after нэг,
/// дөрөв, ес, тэг and дөч, back vowels after the rest.
fn ordinal_suffix(n: u16) -> &'static str {
    if matches!(n % 10, 1 | 4 | 9) || n == 0 || n == 40 { "дэх" } else { "дахь" }
}

/// The genitive after a day of the month, as "1-ний", "15-ны".
fn day_genitive(n: u16) -> &'static str {
    if matches!(n % 10, 1 | 4 | 9) { "ний" } else { "ны" }
}

/// Days of the month, ending in the genitive: "1, 15-ны".
fn days_genitive(days: &[u16]) -> String {
    let list = number_list(days);
    let suffix = day_genitive(days.last().copied().unwrap_or(0));
    format!("{list}-{suffix}")
}

/// Months, sharing the noun: "6, 7, 8-р" (then "сард", "сарын").
fn month_list(months: &[u16]) -> String {
    let list: Vec<String> = months.iter().map(u16::to_string).collect();
    format!("{}-р", list.join(", "))
}

/// Weekday names, Monday first as the Mongolian week runs, from croner's 0-7 (7 is Sunday
/// too).
fn weekday_names(field: &CronComponent) -> Vec<&'static str> {
    let mut days: Vec<usize> = field.values().into_iter().map(|d| usize::from(d % 7)).collect();
    days.sort_unstable_by_key(|&d| (d + 6) % 7);
    days.dedup();
    days.into_iter().map(|d| WEEKDAYS[d]).collect()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn uncapitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// A weekday phrase as a noun: "Баасан" becomes "Баасан гариг".
fn weekday_noun(words: &str) -> String {
    if words.ends_with("гариг") { words.to_string() } else { format!("{words} гариг") }
}

/// A day phrase in the locative: "... Баасан" and "... Баасан гариг" become "... Баасан
/// гаригт"; a phrase ending in "өдөр" stays as it is.
fn day_locative(words: &str) -> String {
    if words.ends_with("гариг") {
        format!("{words}т")
    } else if WEEKDAYS.iter().any(|day| words.ends_with(day)) {
        format!("{words} гаригт")
    } else {
        words.to_string()
    }
}

/// A unit of the time of day.
#[derive(Clone, Copy)]
enum Unit {
    Hour,
    Minute,
    Second,
    /// The one minute at this hour and minute, owning the seconds.
    MinuteAt(u16, u16),
}

impl Unit {
    fn noun(self) -> &'static str {
        match self {
            Unit::Hour => "цаг",
            Unit::Minute | Unit::MinuteAt(..) => "минут",
            Unit::Second => "секунд",
        }
    }

    fn genitive(self) -> &'static str {
        match self {
            Unit::Hour => "цагийн",
            Unit::Minute | Unit::MinuteAt(..) => "минутын",
            Unit::Second => "секундын",
        }
    }

    fn locative(self) -> &'static str {
        match self {
            Unit::Hour => "цагт",
            Unit::Minute | Unit::MinuteAt(..) => "минутад",
            Unit::Second => "секундэд",
        }
    }

    /// The values in the locative ("15 дахь минутад", "9-17 цагт") or the genitive
    /// ("15 дахь минутын", "9-17 цагийн").
    fn values_in(self, values: &[u16], genitive: bool) -> String {
        let case = if genitive { self.genitive() } else { self.locative() };
        match self {
            Unit::Hour => format!("{} {case}", number_list(values)),
            Unit::Minute | Unit::Second => {
                let suffix = ordinal_suffix(values.last().copied().unwrap_or(0));
                format!("{} {suffix} {case}", number_list(values))
            }
            Unit::MinuteAt(hour, minute) => format!("{hour:02}:{minute:02} цагийн {case}"),
        }
    }
}

struct Level {
    unit: Unit,
    kind: Kind,
}

/// The words for the levels of the time, coarsest first: each level owns the next, as
/// "Цаг бүрийн 15 дахь минутад" or "4 цаг тутам, цагийн эхэнд"; an every-level before an
/// every- or step-level says nothing ("5 минут тутам").
fn levels_words(levels: &[Level]) -> String {
    let Some((level, finer)) = levels.split_first() else { return String::new() };
    let Some(next) = finer.first() else {
        return match &level.kind {
            Kind::All => format!("{} бүр", level.unit.noun()),
            Kind::Step(n) => format!("{n} {} тутам", level.unit.noun()),
            Kind::Values(values) => level.unit.values_in(values, false),
        };
    };
    let on_the_hour = finer.len() == 1 && matches!(next.unit, Unit::Minute) && next.kind == Kind::Values(vec![0]);
    let rest = if on_the_hour { "эхэнд".to_string() } else { levels_words(finer) };
    let owns = matches!(next.kind, Kind::Values(_));
    let (noun, unit) = (level.unit.noun(), level.unit);
    match (&level.kind, owns) {
        (Kind::All, false) => rest,
        (Kind::All, true) => format!("{noun} бүрийн {rest}"),
        (Kind::Step(n), false) => format!("{n} {noun} тутам, тухайн {} {rest}", unit.locative()),
        (Kind::Step(n), true) => format!("{n} {noun} тутам, {} {rest}", unit.genitive()),
        (Kind::Values(values), owns) => format!("{} {rest}", unit.values_in(values, owns)),
    }
}

/// The time of day in words.
struct Time {
    words: String,
    /// Given as clock times ("09:00, 17:00 цагт").
    clock: bool,
    /// Only at some hours, so a day without a day field reads "өдөр бүр" (every day).
    daily: bool,
}

fn time(pattern: &CronPattern) -> Option<Time> {
    let (seconds, minutes, hours) = (kind(&pattern.seconds)?, kind(&pattern.minutes)?, kind(&pattern.hours)?);
    let daily = matches!(hours, Kind::Values(_));
    // A few clock times.
    if let (Kind::Values(hs), Kind::Values(ms), Kind::Values(ss)) = (&hours, &minutes, &seconds)
        && ss.len() == 1
        && hs.len() * ms.len() <= 4
    {
        let times: Vec<String> = hs
            .iter()
            .flat_map(|h| {
                ms.iter().map(move |m| match ss[0] {
                    0 => format!("{h:02}:{m:02}"),
                    s => format!("{h:02}:{m:02}:{s:02}"),
                })
            })
            .collect();
        return Some(Time { words: format!("{} цагт", times.join(", ")), clock: true, daily });
    }
    let mut levels = match (&hours, &minutes) {
        (Kind::Values(hs), Kind::Values(ms)) if hs.len() == 1 && ms.len() == 1 => {
            vec![Level { unit: Unit::MinuteAt(hs[0], ms[0]), kind: minutes }]
        }
        _ => vec![Level { unit: Unit::Hour, kind: hours }, Level { unit: Unit::Minute, kind: minutes }],
    };
    if seconds != Kind::Values(vec![0]) {
        levels.push(Level { unit: Unit::Second, kind: seconds });
    }
    Some(Time { words: levels_words(&levels), clock: false, daily })
}

/// Which days.
enum Day {
    Every,
    Dates(Vec<u16>),
    EveryNthDate(u16),
    Weekdays(Vec<&'static str>),
    DatesOrWeekdays(Vec<u16>, Vec<&'static str>),
    /// In croner's words (from [`Mongolian`]), in the locative.
    Described(String),
}

fn day(cron: &Cron) -> Option<Day> {
    let pattern = &cron.pattern;
    let modifiers = pattern.days.has_modifiers() || pattern.days_of_week.has_modifiers();
    let both = !pattern.is_dom_wildcard() && !pattern.is_dow_wildcard();
    if modifiers || (both && pattern.matches_dom_and_dow()) {
        return described_day(cron).map(Day::Described);
    }
    let dates = if pattern.is_dom_wildcard() { None } else { Some(kind(&pattern.days)?) };
    // `Some(None)`: every weekday.
    let weekdays = match weekday_names(&pattern.days_of_week) {
        _ if pattern.is_dow_wildcard() => None,
        names if names.is_empty() => return None,
        names if names.len() == WEEKDAYS.len() => Some(None),
        names => Some(Some(names)),
    };
    Some(match (dates, weekdays) {
        (None | Some(Kind::All), None) | (None, Some(None)) => Day::Every,
        (Some(Kind::Step(n)), None) => Day::EveryNthDate(n),
        (Some(Kind::Values(dates)), None) => Day::Dates(dates),
        (None, Some(Some(names))) => Day::Weekdays(names),
        // Either matches: every date or every weekday is every day.
        (Some(Kind::All), Some(_)) | (Some(_), Some(None)) => Day::Every,
        (Some(Kind::Values(dates)), Some(Some(names))) => Day::DatesOrWeekdays(dates, names),
        (Some(Kind::Step(_)), Some(Some(_))) => Day::Described(described_day(cron)?),
    })
}

/// croner's words for the day alone: the expression at 00:00 every month and year reads
/// "00:00 цагт, <day>."; `None` if it does not.
fn described_day(cron: &Cron) -> Option<String> {
    let midnight = Cron::from_str("0 0 0 * * *").ok()?;
    let mut probe = cron.clone();
    probe.pattern.seconds = midnight.pattern.seconds;
    probe.pattern.minutes = midnight.pattern.minutes;
    probe.pattern.hours = midnight.pattern.hours;
    probe.pattern.months = midnight.pattern.months;
    probe.pattern.years = midnight.pattern.years;
    let words = croner_words(&probe);
    let lead = format!("{}, ", Mongolian.at_time("00:00"));
    let day = words.strip_prefix(&lead)?;
    (!day.is_empty()).then(|| day_locative(day))
}

/// The sentence: year, month and day, then the time.
fn compose(cron: &Cron) -> Option<String> {
    let pattern = &cron.pattern;
    let time = time(pattern)?;
    let day = day(cron)?;
    let (month, year) = (kind(&pattern.months)?, kind(&pattern.years)?);

    // The month alone ("6, 7, 8-р сард") or owning the day ("1-р сарын", "сар бүрийн").
    let month_alone = || match &month {
        Kind::All => None,
        Kind::Values(months) => Some(format!("{} сард", month_list(months))),
        Kind::Step(n) => Some(format!("{n} сар тутам,")),
    };
    let month_owning = |every: bool| match &month {
        Kind::All => every.then(|| "сар бүрийн".to_string()),
        Kind::Values(months) => Some(format!("{} сарын", month_list(months))),
        Kind::Step(n) => {
            Some(if every { format!("{n} сар тутам, сарын") } else { format!("{n} сар тутам,") })
        }
    };
    let day_noun = if time.clock { "" } else { " өдөр" };
    let date: Vec<String> = match day {
        Day::Every => month_alone().into_iter().chain(time.daily.then(|| "өдөр бүр".to_string())).collect(),
        Day::EveryNthDate(n) => month_alone().into_iter().chain([format!("{n} өдөр тутам")]).collect(),
        Day::Dates(dates) => {
            month_owning(true).into_iter().chain([format!("{}{day_noun}", days_genitive(&dates))]).collect()
        }
        Day::Weekdays(names) => {
            month_owning(false).into_iter().chain([format!("{} гаригт", names.join(", "))]).collect()
        }
        Day::DatesOrWeekdays(dates, names) => month_owning(true)
            .into_iter()
            .chain([format!("{} өдөр эсвэл {} гаригт", days_genitive(&dates), names.join(", "))])
            .collect(),
        Day::Described(words) => vec![match &month {
            Kind::All => words,
            Kind::Values(months) => {
                let rest = words.strip_prefix("сарын ").unwrap_or(&words);
                format!("{} сарын {rest}", month_list(months))
            }
            Kind::Step(n) => format!("{n} сар тутам, {words}"),
        }],
    };
    let year = match &year {
        Kind::All => None,
        Kind::Values(years) if date.is_empty() => Some(format!("{} онд", number_list(years))),
        Kind::Values(years) => Some(format!("{} оны", number_list(years))),
        Kind::Step(n) => Some(format!("{n} жил тутам,")),
    };

    let mut sentence = year.into_iter().chain(date).collect::<Vec<_>>().join(" ");
    if !sentence.is_empty() {
        // "2 өдөр тутам 03:00 цагт", but "2 өдөр тутам, цаг бүрийн эхэнд".
        sentence.push_str(if sentence.ends_with("тутам") && !time.clock { ", " } else { " " });
    }
    sentence.push_str(&time.words);
    Some(capitalized(&sentence))
}

/// croner's phrases in Mongolian. croner joins them in English order (time, day, month,
/// year); [`describe`] uses them for the day when the fields cannot word it, and for the
/// whole expression only if its own sentence fails.
#[derive(Clone, Copy, Default)]
pub(super) struct Mongolian;

impl Language for Mongolian {
    fn every_minute(&self) -> &'static str {
        "Минут бүр"
    }
    fn every_second_phrase(&self) -> &'static str {
        "Секунд бүр"
    }
    fn every_x_minutes(&self, step: u16) -> String {
        format!("{step} минут тутам")
    }
    fn every_x_seconds(&self, step: u16) -> String {
        format!("{step} секунд тутам")
    }
    fn every_x_hours(&self, step: u16) -> String {
        format!("{step} цаг тутам")
    }
    fn every_minute_of_every_x_hours(&self, step: u16) -> String {
        format!("{step} цаг тутам, минут бүр")
    }

    fn at_time(&self, time: &str) -> String {
        format!("{time} цагт")
    }
    fn at_time_and_every_x_seconds(&self, time: &str, step: u16) -> String {
        format!("{time} цагийн минутад {step} секунд тутам")
    }
    fn at_time_at_second(&self, time: &str, second: &str) -> String {
        format!("{time} цагийн минутын {second} {} секундэд", ordinal_suffix(last_number(second)))
    }

    fn at_phrase(&self, phrase: &str) -> String {
        phrase.to_string()
    }
    fn on_phrase(&self, phrase: &str) -> String {
        day_locative(phrase)
    }
    fn in_phrase(&self, phrase: &str) -> String {
        if phrase.ends_with("тутам") { phrase.to_string() } else { format!("{phrase}д") }
    }

    fn second_phrase(&self, s: &str) -> String {
        format!("{s} {} секундэд", ordinal_suffix(last_number(s)))
    }
    fn minute_phrase(&self, s: &str) -> String {
        format!("{s} {} минутад", ordinal_suffix(last_number(s)))
    }
    fn minute_past_every_hour_phrase(&self, s: &str) -> String {
        format!("цаг бүрийн {s}")
    }
    fn hour_phrase(&self, s: &str) -> String {
        format!("{s} цагт")
    }
    fn year_phrase(&self, s: &str) -> String {
        format!("{s} он")
    }

    fn day_phrase(&self, s: &str) -> String {
        format!("сарын {s}-{} өдөр", day_genitive(last_number(s)))
    }
    fn the_last_day_of_the_month(&self) -> &'static str {
        "сарын сүүлийн өдөр"
    }
    fn the_weekday_nearest_day(&self, day: &str) -> String {
        format!("сарын {day}-нд хамгийн ойр ажлын өдөр")
    }
    fn the_last_weekday_of_the_month(&self, day: &str) -> String {
        format!("сарын сүүлийн {}", weekday_noun(day))
    }
    fn the_nth_weekday_of_the_month(&self, n: u8, day: &str) -> String {
        let nth = match n {
            1 => "эхний",
            2 => "хоёр дахь",
            3 => "гурав дахь",
            4 => "дөрөв дэх",
            _ => "тав дахь",
        };
        format!("сарын {nth} {}", weekday_noun(day))
    }

    fn dom_and_dow_if_also(&self, dow: &str) -> String {
        self.dom_and_dow_if_also_one_of(dow)
    }
    fn dom_and_dow_if_also_one_of(&self, dow: &str) -> String {
        format!("{} таарвал", weekday_noun(&dow.replace(" болон ", " эсвэл ")))
    }

    fn list_conjunction_and(&self) -> &'static str {
        "болон"
    }
    fn list_conjunction_or(&self) -> &'static str {
        "эсвэл"
    }
    fn list_conjunction_and_comma(&self) -> &'static str {
        ", болон"
    }

    fn day_of_week_names(&self) -> [&'static str; 7] {
        WEEKDAYS
    }
    fn month_names(&self) -> [&'static str; 12] {
        [
            "1-р сар",
            "2-р сар",
            "3-р сар",
            "4-р сар",
            "5-р сар",
            "6-р сар",
            "7-р сар",
            "8-р сар",
            "9-р сар",
            "10-р сар",
            "11-р сар",
            "12-р сар",
        ]
    }

    fn every_past_phrase(&self, every: &str, hours: &str) -> String {
        let every = uncapitalized(every);
        if hours.ends_with("тутам") { format!("{hours}, {every}") } else { format!("{hours} {every}") }
    }
    fn past_hour_phrase(&self, s: &str) -> String {
        format!("{s} цагт")
    }
    fn every_x_months(&self, step: u16) -> String {
        format!("{step} сар тутам")
    }
    fn every_x_years(&self, step: u16) -> String {
        format!("{step} жил тутам")
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use croner::Cron;

    use super::croner_words;

    /// The sentence croner builds from [`super::Mongolian`], should ours ever fail.
    #[test]
    fn croners_words_are_mongolian_too() {
        for (expression, words) in [
            ("*/10 * * * * *", "10 секунд тутам"),
            ("15 * * * *", "Цаг бүрийн 15 дахь минутад"),
            ("0 3 * * *", "03:00 цагт"),
            ("0 5 * * 0", "05:00 цагт, Ням гаригт"),
            ("* 9-17 * * *", "9-17 цагт минут бүр"),
            ("0 0 1,15 * *", "00:00 цагт, сарын 1 болон 15-ны өдөр"),
            ("0 12 * 1,3,5 *", "12:00 цагт, 1-р сар, 3-р сар болон 5-р сард"),
            ("0 0 0 1 1 * 2030", "00:00 цагт, сарын 1-ний өдөр, 1-р сард, 2030 онд"),
        ] {
            let cron = Cron::from_str(expression).unwrap();
            assert_eq!(croner_words(&cron), words, "{expression}");
        }
    }
}
