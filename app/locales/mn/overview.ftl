# Тойм хуудас (pages/overview.rs) ба түүний графикууд (components/throughput_chart.rs,
# components/minute_chart.rs).
overview-title = Дараалал
overview-throughput = Боловсруулалт
overview-last-hour = Сүүлийн нэг цаг
overview-last-day = Сүүлийн нэг өдөр
overview-no-queues = Одоогоор дараалал алга: ажил нэмэхэд энд харагдана.
overview-sign-in = Нэвтрэх
overview-saved-searches = Хадгалсан хайлтууд
# Тоолол эрт зогссон үед хадгалсан хайлтын тоо: "1,000+".
overview-at-least = { $count }+
overview-warnings = Анхааруулга
overview-processed = Боловсруулсан
overview-failed = Амжилтгүй
overview-timings = Сүүлийн нэг цагт дууссан ажлууд
overview-wait-percentiles = Хүлээх хугацаа p50 / p95
overview-run-percentiles = Ажиллах хугацаа p50 / p95
overview-workers-online = { $count } ажилчин онлайн

# Бүх системийн боловсруулалт; $bar: нэг баганад ногдох минут.
overview-throughput-summary-hour = Сүүлийн нэг цагт { $completed } дууссан, { $failed } амжилтгүй; { $bar ->
    [one] нэг минутад
   *[other] { $bar } минутад
} хамгийн ихдээ { $peak }
overview-throughput-summary-day = Сүүлийн нэг өдөрт { $completed } дууссан, { $failed } амжилтгүй; { $bar ->
    [one] нэг минутад
   *[other] { $bar } минутад
} хамгийн ихдээ { $peak }
# Нэг баганын тайлбар; $at: баганын эхлэх үе.
overview-throughput-bar = { $at }: { $completed } дууссан, { $failed } амжилтгүй
overview-throughput-peak = хамгийн их { $peak } / { $bar ->
    [one] минут
   *[other] { $bar } минут
}
overview-throughput-now = одоо
overview-throughput-completed = Дууссан
overview-throughput-failed = Амжилтгүй

# Сүүлийн нэг цагт дараалалд хүлээгдэж буй ажлууд.
overview-backlog-summary = Сүүлийн нэг цагт хүлээгдэж буй: одоо { $last }, хамгийн ихдээ { $peak }
overview-backlog-no-samples = Сүүлийн нэг цагт хүлээгдэж буй: хэмжилт алга (ямар ч ажилчин холбогдоогүй)
overview-backlog-waiting = Хүлээгдэж буй:

# Дарааллын минут тутмын график; $label: юуг тоолж буй (Боловсруулсан, Амжилтгүй).
overview-minute-chart-summary = { $label }, сүүлийн нэг цаг: нийт { $total }, минутад хамгийн ихдээ { $peak }
# Графикийн нийт тооны ард: "12 / цаг".
overview-per-hour = / цаг
