# The dead-letter page (pages/dead_letters.rs).
dead-letters-title = Үхсэн ажлууд
dead-letters-filter = Шүүх
dead-letters-queue = Дараалал
dead-letters-error-contains = Алдааны текстэд агуулагдах
dead-letters-died-at-least = Үхсэнээс хойш хамгийн багадаа (минут)
dead-letters-done = { $count } ажил гүйцэтгэгдлээ.
# Everything the filter matches.
dead-letters-requeue-all = Бүх { $count } ажлыг дахин дараалалд оруулах…
dead-letters-purge-all = Бүх { $count } ажлыг бүрмөсөн устгах…
dead-letters-requeue-all-warning = Тохирох { $count } үхсэн ажлыг бүгдийг нь хүлээгдэж буй төлөвт буцаана.
dead-letters-purge-all-warning = Тохирох { $count } үхсэн ажлыг бүгдийг нь устгана. Үүнийг буцаах боломжгүй.
dead-letters-requeue-all-matching = Тохирох бүх { $count } ажлыг дахин дараалалд оруулах
dead-letters-purge-all-matching = Тохирох бүх { $count } ажлыг бүрмөсөн устгах
# The ticked jobs.
dead-letters-with-selected = Сонгосон ажлуудад
dead-letters-requeue = Дахин дараалалд оруулах
dead-letters-purge = Бүрмөсөн устгах
dead-letters-apply = Хэрэгжүүлэх
# The table.
dead-letters-caption = Үхсэн ажлууд
dead-letters-col-select = Сонгох
dead-letters-col-queue = Дараалал
dead-letters-col-job = Ажил
dead-letters-col-error = Алдаа
dead-letters-col-attempts = Оролдлого
dead-letters-col-died = Үхсэн
dead-letters-empty = Тохирох үхсэн ажил алга.
dead-letters-select-job = Сонгох: { $id }
dead-letters-requeue-job = Дахин дараалалд оруулах: { $id }
