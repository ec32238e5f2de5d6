# An end user's own page (pages/my_jobs.rs).
my-jobs-title = Миний ажлууд
my-jobs-connections = Банкны холболтууд
my-jobs-no-connections = Холболт алга.
my-jobs-col-bank = Банк
my-jobs-col-status = Төлөв
my-jobs-col-last-synced = Сүүлд синхрончилсон
my-jobs-col-transactions = Гүйлгээ
my-jobs-never = хэзээ ч үгүй
my-jobs-sync-now = Одоо синхрончлох
my-jobs-sync-label = Одоо синхрончлох: { $bank }
my-jobs-sync-jobs = Синхрончлолын ажлууд
my-jobs-no-jobs = Одоогоор ажил алга.
# A connection's status.
my-jobs-connection-active = идэвхтэй
my-jobs-connection-syncing = синхрончилж байна
my-jobs-connection-requires-reauth = дахин нэвтрэх шаардлагатай
my-jobs-connection-error = алдаатай
