use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::live::{LiveStatus, provide_live_feed, use_live_feed};
use crate::components::minute_chart::MinuteChart;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::throughput_chart::{BacklogChart, ThroughputChart};
use crate::format::query_value;
use crate::i18n::{I18n, use_i18n};
use crate::pages::search::saved_searches;
use crate::session::error_text;
use crate::t;
use crate::types::{QueueCard, Throughput};

#[server(input = GetUrl, endpoint = "get_throughput")]
pub async fn get_throughput(minutes: u32) -> Result<Throughput, AppError> {
    crate::backend::backend()?.throughput(minutes).await
}

#[server(input = GetUrl, endpoint = "get_overview")]
pub async fn get_overview() -> Result<Vec<QueueCard>, AppError> {
    crate::backend::backend()?.overview().await
}

/// Every queue with its counts, paused badge, warnings and workers online.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let i18n = use_i18n();
    let feed = provide_live_feed("counts".to_string());
    // Read again when the feed says it missed messages.
    let cards = Resource::new(move || feed.resync.get(), |_| get_overview());
    let query = leptos_router::hooks::use_query_map();
    let day = move || query.read().get("span").as_deref() == Some("day");
    // Read again each minute (a new bar), and after a resync.
    let clock = crate::clock::use_clock();
    let minute = Memo::new(move |_| clock.map(|clock| clock.now() / 60_000));
    let throughput =
        Resource::new(move || (day(), feed.resync.get()), |(day, _)| get_throughput(if day { 1440 } else { 60 }));
    Effect::watch(move || minute.get(), move |_, _, _| throughput.refetch(), false);
    let saved = Resource::new(|| (), |_| saved_searches());
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "overview-title")}</h1>
            <LiveStatus feed/>
            <section aria-labelledby="throughput-heading">
                <div class="span-switch">
                    <h2 id="throughput-heading">{t!(i18n, "overview-throughput")}</h2>
                    <a href=crate::mount_path::href("/") aria-current=move || (!day()).then_some("page")>
                        {t!(i18n, "overview-last-hour")}
                    </a>
                    <a href=crate::mount_path::href("/?span=day") aria-current=move || day().then_some("page")>
                        {t!(i18n, "overview-last-day")}
                    </a>
                </div>
                <Transition fallback=|| ()>
                    {move || {
                        throughput.get().map(|result| match result {
                            Ok(data) => view! { <ThroughputChart data/> }.into_any(),
                            Err(error) => view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any(),
                        })
                    }}
                </Transition>
            </section>
            <Transition fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    cards
                        .get()
                        .map(|result| match result {
                            Ok(cards) if cards.is_empty() => {
                                view! { <p>{t!(i18n, "overview-no-queues")}</p> }.into_any()
                            }
                            Ok(cards) => {
                                view! {
                                    <div class="cards">
                                        {cards.into_iter().map(|card| view! { <QueueCardView card/> }).collect_view()}
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="error" role="alert">
                                        {error_text(&error)} " " <a href=crate::mount_path::href("/login")>{t!(i18n, "overview-sign-in")}</a>
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
            <Suspense fallback=|| ()>
                {move || {
                    let list = saved.get().and_then(Result::ok).filter(|list| !list.is_empty())?;
                    Some(
                        view! {
                            <h2>{t!(i18n, "overview-saved-searches")}</h2>
                            <ul class="saved-searches" aria-label=t!(i18n, "overview-saved-searches")>
                                {list
                                    .into_iter()
                                    .map(|saved| {
                                        let count_attr = saved.count.as_ref().map(|c| c.text()).unwrap_or_default();
                                        let count = saved
                                            .count
                                            .as_ref()
                                            .map(|c| {
                                                if c.at_least {
                                                    t!(i18n, "overview-at-least", count = c.count)
                                                } else {
                                                    i18n.number(c.count)
                                                }
                                            })
                                            .unwrap_or_default();
                                        let name = saved.name.clone();
                                        let href = crate::mount_path::href(&format!("/search?q={}", query_value(&saved.q)));
                                        view! {
                                            <li data-saved=name>
                                                <a href=href>{saved.name}</a>
                                                " "
                                                <span class="badge" data-count=count_attr>{count}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        },
                    )
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn QueueCardView(card: QueueCard) -> impl IntoView {
    let i18n = use_i18n();
    let feed = use_live_feed();
    let heading = format!("queue-{}", card.name);
    let labelled_by = heading.clone();
    let counts = ["waiting", "active", "delayed", "retrying", "completed", "dead", "cancelled", "expired"]
        .map(|state| (state, card.counts.get(state).unwrap_or(0)));
    view! {
        <article class="card" aria-labelledby=labelled_by data-queue=card.name.clone()>
            <h2 id=heading>
                <a href=crate::mount_path::href(&format!("/queues/{}", card.name))>{card.name.clone()}</a>
                {card.counts.paused.then(|| view! { <span class="badge badge-paused">{i18n.job_state("paused")}</span> })}
            </h2>
            <dl class="counts">
                {counts
                    .into_iter()
                    .map(|(state, n)| {
                        let name = card.name.clone();
                        // The number the live feed pushed last, else the one rendered.
                        let value = move || {
                            feed.and_then(|feed| feed.counts.with(|all| all.get(&name).and_then(|c| c.get(state))))
                                .unwrap_or(n)
                        };
                        view! {
                            <div class=format!("count count-{state}")>
                                <dt>{i18n.job_state(state)}</dt>
                                <dd data-count=state>{move || i18n.number(value())}</dd>
                            </div>
                        }
                    })
                    .collect_view()}
            </dl>
            {(!card.warnings.is_empty())
                .then(|| {
                    view! {
                        <ul class="warnings" aria-label=t!(i18n, "overview-warnings")>
                            {card.warnings.iter().map(|w| view! { <li>{w.text(i18n)}</li> }).collect_view()}
                        </ul>
                    }
                })}
            <div class="charts">
                <MinuteChart
                    label=t!(i18n, "overview-processed")
                    values=card.completed_per_minute.clone()
                    class="processed"
                />
                <MinuteChart label=t!(i18n, "overview-failed") values=card.failed_per_minute.clone() class="failed"/>
                <BacklogChart values=card.waiting_per_minute.clone()/>
            </div>
            <dl class="timings" aria-label=t!(i18n, "overview-timings")>
                <dt>{t!(i18n, "overview-wait-percentiles")}</dt>
                <dd data-timing="wait">{percentiles(i18n, card.wait_ms)}</dd>
                <dt>{t!(i18n, "overview-run-percentiles")}</dt>
                <dd data-timing="run">{percentiles(i18n, card.run_ms)}</dd>
            </dl>
            <p class="workers">{t!(i18n, "overview-workers-online", count = card.workers)}</p>
        </article>
    }
}

/// `120 ms / 2.5 s`, or a dash when nothing completed.
fn percentiles(i18n: I18n, value: Option<(u64, u64)>) -> String {
    value.map(|(p50, p95)| format!("{} / {}", i18n.duration(p50), i18n.duration(p95))).unwrap_or_else(|| "—".into())
}
