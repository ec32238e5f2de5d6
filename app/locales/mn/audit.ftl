# Аудитын бүртгэлийн хуудас (pages/audit.rs).
audit-title = Аудитын бүртгэл
audit-empty = Одоогоор бүртгэгдсэн зүйл алга.
audit-table = Аудитын бүртгэл
audit-col-when = Хэзээ
audit-col-who = Хэн
audit-col-action = Үйлдэл
audit-col-target = Объект
audit-col-parameters = Параметрүүд
audit-col-result = Үр дүн
audit-col-from = Хаанаас
audit-older = Өмнөх бичлэгүүд
# Үйлдлийн үр дүн, серверийн бүртгэснээр.
audit-result-ok = амжилттай
audit-result-failed = амжилтгүй
audit-result-ok-jobs = амжилттай: { $count } ажил
audit-result-ok-of = амжилттай: { $changed } / { $matched } ажил
audit-result-failed-after = { $changed } / { $matched } ажлыг өөрчилсний дараа амжилтгүй болсон: { $error }
