# Олон хуудсанд хэрэглэгдэх үгс.
common-jobs = { $count } ажил
common-loading = Ачаалж байна…
state-waiting = хүлээгдэж буй
state-active = ажиллаж буй
state-delayed = хойшлуулсан
state-retrying = дахин оролдож буй
state-completed = дууссан
state-failed = амжилтгүй
state-dead = үхсэн
state-cancelled = цуцалсан
state-expired = хугацаа хэтэрсэн
state-paused = түр зогсоосон
role-admin = админ
role-operator = оператор
role-viewer = ажиглагч
role-user = хэрэглэгч
role-anonymous = нэвтрээгүй
