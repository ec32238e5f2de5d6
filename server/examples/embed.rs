//! Hoist inside an existing axum application: the app's own pages and sign-in, its own
//! typed job and handler, and Hoist's dashboard mounted at `/hoist`, signed in through
//! the app's session.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p hoist --example embed
//! ```
//! Then open http://127.0.0.1:8080, sign in with any name, sign someone up, and follow
//! the link to watch the job in the dashboard.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{Router, routing::get, routing::post};
use hoist_server::queue::{Handlers, JobContext, JobError, Progress, Queue, TypedJob};
use hoist_server::users::AdminBootstrap;
use hoist_server::{HoistBuilder, HostUser, Role};
use serde::{Deserialize, Serialize};

/// The app's job: welcome a new user by e-mail.
#[derive(Serialize, Deserialize)]
struct WelcomeEmail {
    to: String,
}

/// Its typed result, kept as the job's result and shown in the dashboard.
#[derive(Serialize, Deserialize)]
struct Sent {
    message_id: String,
}

impl TypedJob for WelcomeEmail {
    const NAME: &'static str = "welcome-email";
    type Output = Sent;
}

async fn send_welcome(ctx: JobContext, job: WelcomeEmail) -> Result<Sent, JobError> {
    for step in 1..=4 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await; // the mail provider
        ctx.progress(Progress::stage("sending").percent(step as f64 * 25.0)).await?;
    }
    Ok(Sent { message_id: format!("<welcome.{}@example.com>", job.to.replace('@', ".")) })
}

/// The app's own sign-in: session id (cookie `app_session`) to user name, in memory.
#[derive(Clone, Default)]
struct Sessions(Arc<Mutex<HashMap<String, String>>>);

impl Sessions {
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
        let id = cookies.split(';').find_map(|c| c.trim().strip_prefix("app_session="))?;
        self.0.lock().unwrap().get(id).cloned()
    }
}

#[derive(Clone)]
struct AppState {
    sessions: Sessions,
    emails: Queue,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sessions = Sessions::default();
    let who = sessions.clone();
    let hoist = HoistBuilder::from_env() // REDIS_URL, DATABASE_URL, HOIST_* as for `hoist serve`
        .queue("emails", Handlers::new().job(send_welcome))
        // Everyone signed in to the app is a Hoist operator.
        .host_auth(move |request| {
            let user = who.user(&request.headers);
            async move { user.map(|name| HostUser::new(name, Role::Operator)) }
        })
        .build()
        .await?;
    let state = AppState { sessions, emails: hoist.queue("emails")? };
    let app = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/signup", post(signup))
        .with_state(state)
        .nest("/hoist", hoist.router());

    let running = hoist.start().await?;
    let addr = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    if let AdminBootstrap::CreatedWithGeneratedPassword(password) = hoist.admin_bootstrap() {
        println!("Hoist's own `admin` account has the password {password} (shown once)");
    }
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    running.stop().await; // running jobs finish first
    Ok(())
}

async fn home(State(app): State<AppState>, headers: HeaderMap) -> Html<String> {
    Html(match app.sessions.user(&headers) {
        Some(name) => format!(
            "<h1>My app</h1><p>Signed in as {name}. <a href=\"/hoist\">Jobs dashboard</a></p>
             <form method=post action=/signup><input name=email placeholder=email><button>Sign up</button></form>"
        ),
        None => "<h1>My app</h1><form method=post action=/login><input name=name placeholder=name>\
                 <button>Sign in</button></form>"
            .into(),
    })
}

#[derive(Deserialize)]
struct Login {
    name: String,
}

async fn login(State(app): State<AppState>, Form(login): Form<Login>) -> impl IntoResponse {
    let id = format!("{:032x}", rand::random::<u128>());
    app.sessions.0.lock().unwrap().insert(id.clone(), login.name);
    ([(header::SET_COOKIE, format!("app_session={id}; HttpOnly; SameSite=Lax; Path=/"))], Redirect::to("/"))
}

#[derive(Deserialize)]
struct Signup {
    email: String,
}

async fn signup(State(app): State<AppState>, headers: HeaderMap, Form(signup): Form<Signup>) -> impl IntoResponse {
    if app.sessions.user(&headers).is_none() {
        return Html("<p>Sign in first.</p>".to_string());
    }
    match app.emails.push(&WelcomeEmail { to: signup.email }).await {
        Ok(job) => {
            Html(format!("<p>Welcome e-mail queued: <a href=\"/hoist/queues/emails/jobs/{0}\">{0}</a></p>", job.id))
        }
        Err(e) => Html(format!("<p>Could not queue: {e}</p>")),
    }
}
