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
