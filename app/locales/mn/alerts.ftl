# Сэрэмжлүүлэг: идэвхтэй, саяхны, дүрэм, чимээгүй болгосон (pages/alerts.rs), мөн
# сэрэмжлүүлэг идэвхтэй үед хуудас бүрийн туг (components/firing_banner.rs).
alerts-title = Сэрэмжлүүлэг
alerts-intro = Дүрмүүдийг бүх серверт минут тутамд нэг удаа шалгана. Зөрчил хүлээх хугацаагаа давбал идэвхждэг; мэдэгдэл имэйл, вебхүүкээр очно, арилахад дахин нэг мэдэгдэл очно.
alerts-open = Идэвхтэй ба хүлээгдэж буй
alerts-open-none = Идэвхтэй болон хүлээгдэж буй сэрэмжлүүлэг алга.
alerts-recent = Саяхны мэдэгдлүүд
alerts-recent-none = Одоогоор сэрэмжлүүлэг идэвхжээгүй.
alerts-rules = Дүрмүүд
alerts-rules-intro = Бүх дараалалд зориулсан дүрэм нь тухайн төрлийн өөрийн дүрэмгүй дараалал бүрт үйлчилнэ. Хугацааны босгыг секундээр.
alerts-silences = Чимээгүй болголт
alerts-silences-none = Идэвхтэй чимээгүй болголт алга.
alerts-col-alert = Сэрэмжлүүлэг
alerts-col-state = Төлөв
alerts-col-since = Эхэлсэн
alerts-col-measure = Хэмжээс
alerts-col-at = Хэзээ
alerts-col-notice = Мэдэгдэл
alerts-col-rule = Дүрэм
alerts-col-threshold = Босго
alerts-col-window = Цонх (секунд)
alerts-col-pending = Хүлээх (секунд)
alerts-col-enabled = Идэвхтэй
alerts-state-firing = идэвхтэй
alerts-state-pending = хүлээгдэж буй
alerts-state-resolved = арилсан
alerts-silenced = чимээгүй, илгээгээгүй
alerts-measure-of = { $value } (босго { $threshold })
alerts-flag-yes = тийм
alerts-flag-no = үгүй
alerts-rule-every-queue = { $kind } · бүх дараалал
alerts-rule-save = Хадгалах
alerts-kind-failure-rate = Амжилтгүй оролдлого
alerts-kind-dead-growth = Шинэ үхсэн ажил
alerts-kind-waiting = Хүлээгдэж буй ажил
alerts-kind-oldest-waiting = Хамгийн урт хүлээлт
alerts-kind-active-too-long = Хэт удаан ажиллаж буй ажил
alerts-kind-no-workers = Ажилтан алга
alerts-kind-history-lag = Түүх хоцорсон
alerts-kind-redis-unreachable = Redis холбогдохгүй
alerts-silence-add = Чимээгүй болгох…
alerts-silence-rule = Дүрэм
alerts-silence-subject = Дараалал (хоосон: бүх дараалал)
alerts-silence-minutes = Хугацаа (минут)
alerts-silence-reason = Шалтгаан
alerts-silence-save = Чимээгүй болгох
alerts-silence-end = Одоо дуусгах
alerts-silence-until = хүртэл
alerts-silence-every-rule = Бүх дүрэм
alerts-silence-every-subject = бүх дараалал
alerts-silence-system = бүх систем
alerts-banner = { $count ->
    [one] 1 сэрэмжлүүлэг идэвхтэй:
   *[other] { $count } сэрэмжлүүлэг идэвхтэй:
}
alerts-banner-link = Сэрэмжлүүлэг харах
