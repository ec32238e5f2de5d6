# Нэг дарааллын хуудас (pages/queue.rs).
queue-maintained = Дууслаа: { $count } ажил.
queue-pause = Түр зогсоох
queue-resume = Үргэлжлүүлэх
queue-find-jobs = Ажил хайх
queue-search-label = Ажлын ID эсвэл нэр
queue-search = Хайх
queue-clear = Цэвэрлэх
queue-states = Ажлын төлөвүүд
queue-next-page = Дараагийн хуудас

# Хоослох, цэвэрлэх, бүгдийг дахин оролдох; $state: ажлын төлөвийн нэр (common.ftl-ийн state-…).
queue-drain-summary = Хоослох…
queue-drain-warning = Энэ дарааллын бүх хүлээгдэж буй болон хойшлуулсан ажлыг устгана. Ажиллаж буй ажлууд дуусна. Үүнийг буцаах боломжгүй.
queue-drain-button = Дарааллыг хоослох
queue-clean-summary = { $state } ажлуудыг цэвэрлэх…
queue-clean-age = Үүнээс хуучин { $state } ажлуудыг устгах (минут)
queue-clean-button = Хуучин { $state } ажлуудыг устгах
queue-retry-summary = Бүх { $state } ажлыг дахин оролдох…
queue-retry-warning = Энэ дарааллын бүх { $state } ажлыг шинэ оролдлоготойгоор хүлээгдэж буй төлөвт буцаана.
queue-retry-button = Бүх { $state } ажлыг дахин оролдох

# Ажлуудын хүснэгт.
queue-no-jobs = Энэ төлөвт ажил алга.
queue-jobs-caption = Ажлууд
queue-column-id = ID
queue-column-name = Нэр
queue-column-owner = Эзэмшигч
queue-column-created = Үүсгэсэн
queue-column-attempts = Оролдлого
queue-column-progress = Явц

# Дарааллын бүх ажилчны хамтдаа мөрдөх хязгаар (components/queue_limits.rs).
queue-limits-title = Хязгаар
queue-limits-none = Ажилчдын нийтлэг хязгаар алга: ажилчин бүр өөрийн зэрэгцээ ажиллах тоогоор ажил авна.
queue-limits-concurrency = Бүх ажилчин нийлээд нэг зэрэг хамгийн ихдээ { $count } ажил
queue-limits-rate = { $per } тутамд хамгийн ихдээ { $max } эхлэл
queue-limits-process = процесс бүрт нэг зэрэг { $count } ажил
queue-limits-group = бүлэг бүрээс нэг зэрэг { $count } ажил
queue-limits-change = Хязгаар өөрчлөх…
queue-limits-concurrency-label = Нэг зэрэг ажиллах хамгийн их тоо (хоосон: хязгааргүй)
queue-limits-rate-max-label = Нэг цонхонд эхлэх хамгийн их тоо (хоосон: хурдны хязгааргүй)
queue-limits-rate-per-label = Цонх (секунд)
queue-limits-process-label = Процесс бүрт нэг зэрэг ажиллах хамгийн их тоо (хоосон: процесс бүр өөрийн тохиргоогоор)
queue-limits-group-label = Нэг бүлгээс нэг зэрэг ажиллах хамгийн их тоо (хоосон: хязгааргүй)
queue-limits-save = Хязгаар хадгалах
settings-title = { $changed ->
    [0] Тохиргоо (бүгд анхдагч)
   *[other] Тохиргоо (тохиргооноос { $changed })
}
settings-table = Энэ серверт энэ дарааллын тохиргоо
settings-col-setting = Тохиргоо
settings-col-value = Утга
settings-col-from = Эх сурвалж
settings-from-file = { $place }
settings-from-environment = орчны хувьсагч { $variable }
settings-from-default = анхдагч
