# The job page (pages/job.rs) and its "Copy as curl" box (components/enqueue_as_curl.rs).
job-action-cancel = Цуцлах
job-action-remove = Устгах
job-action-promote = Одоо ажиллуулах
job-action-retry = Дахин оролдох
job-duplicate = Хуулбар үүсгэх
job-owner = Эзэмшигч
job-group = Бүлэг
job-attempts = Оролдлого
job-attempts-of = { $attempts } / { $max }
job-priority = Эрэмбэ
job-timeout = Хугацааны хязгаар
job-timeout-none = байхгүй
job-start-by = Эхлэх эцсийн хугацаа (хэтэрвэл хүчингүй)
job-dedup-key = Давхардлын түлхүүр
job-created = Үүссэн
job-runs-at = Ажиллах цаг
job-started = Эхэлсэн
job-finished = Дууссан
job-waited = Хүлээсэн
job-ran-for = Ажилласан хугацаа
job-worker = Ажилчин
job-payload = Өгөгдөл
job-payload-cut = Нийт { $total } байтаас эхний { $shown } байтыг харуулж байна.
job-payload-show-all = Бүгдийг харах (JSON)
job-result = Үр дүн
job-timeline = Он цагийн дараалал
job-no-failed-attempts = Амжилтгүй оролдлого алга.
job-attempt-heading = { $attempt }-р оролдлого · { $kind }
job-log = Лог
job-no-log-lines = Лог мөр алга.
# How an attempt failed.
job-error-retryable = дахин оролдож болох
job-error-permanent = байнгын
job-error-timeout = хугацаа хэтэрсэн
job-error-panic = уналт (panic)
job-error-stalled = гацсан
# The progress bar (also on My jobs).
job-progress = Явц
job-progress-percent = { $percent }%
job-progress-eta = ойролцоогоор { $duration } үлдсэн
# Editing a dead or cancelled job's payload.
job-edit-too-large = Өгөгдөл энд засахад хэт том байна; REST API-аар шинэ өгөгдөлтэйгөөр дахин оролдоно уу.
job-edit-summary = Өгөгдлийг засаад дахин оролдох…
job-edit-payload-label = Өгөгдөл (JSON)
job-edit-retry = Энэ өгөгдлөөр дахин оролдох
# The timeline of attempts.
job-step-created = Үүссэн
job-step-failed = { $attempt }-р оролдлого амжилтгүй ({ $kind })
job-step-started = { $attempt }-р оролдлого эхэлсэн
job-step-ended = Төгссөн: { $state }
# Copy as curl: the note reads start, HOIST_URL, url, HOIST_TOKEN, token.
job-curl-summary = curl командаар хуулах
job-curl-note-start = Энэ ажилтай ижил ажлыг дараалалд нэмнэ. Орчны хувьсагч
job-curl-note-url = нь энэ хяналтын самбарын хаяг,
job-curl-note-token = нь API токен байх ёстой.
job-curl-copy = Хуулах
job-curl-copied = Хуулсан
