//! A small SMTP server for tests: it speaks enough of RFC 5321 for a real client
//! (lettre) to deliver, keeps every accepted message, and can answer the end of a
//! message with a scripted reply (e.g. `451` to force a retry, `550` to reject).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One delivered message.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
}

#[derive(Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    /// Replies to the end of the next messages' DATA, in order; `250` once empty.
    replies: VecDeque<String>,
    attempts: usize,
}

/// A listening SMTP server on 127.0.0.1 and a random port; stops when dropped.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    /// Starts listening (inside a Tokio runtime).
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, state.clone()));
            }
        });
        SmtpServer { port, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP, no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answers the end of the next message with `reply` (e.g. `"451 4.3.0 try later"`).
    pub fn reply_next(&self, reply: &str) {
        self.shared.lock().unwrap().replies.push_back(reply.to_string());
    }

    /// Messages accepted so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Messages offered so far, accepted or not.
    pub fn attempts(&self) -> usize {
        self.shared.lock().unwrap().attempts
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(socket: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 hoist-test ESMTP ready\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            "250-hoist-test\r\n250-8BITMIME\r\n250 SMTPUTF8".to_string()
        } else if upper.starts_with("HELO") || upper.starts_with("RSET") || upper.starts_with("NOOP") {
            "250 OK".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command["MAIL FROM:".len()..]);
            to.clear();
            "250 OK".to_string()
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command["RCPT TO:".len()..]));
            "250 OK".to_string()
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let mut state = shared.lock().unwrap();
            state.attempts += 1;
            let reply = state.replies.pop_front().unwrap_or_else(|| "250 2.0.0 queued".to_string());
            if reply.starts_with('2') {
                state.received.push(ReceivedMail { from: from.clone(), to: to.clone(), data });
            }
            reply
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            "502 command not implemented".to_string()
        };
        if write.write_all(format!("{reply}\r\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

fn address(text: &str) -> String {
    text.trim().trim_start_matches('<').split('>').next().unwrap_or_default().to_string()
}
