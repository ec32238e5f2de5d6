# Төлөвийн хуудас (pages/home.rs).
status-title = Системийн төлөв
# Араас нь ерөнхий төлөв ("хэвийн" эсвэл "доголдолтой").
status-summary = Hoist { $version }, төлөв:
status-healthy = хэвийн
status-degraded = доголдолтой
status-dependencies = Хамаарлууд
status-column-component = Бүрэлдэхүүн
status-column-state = Төлөв
status-column-detail = Дэлгэрэнгүй
status-up = ажиллаж байна
status-down = ажиллахгүй байна
