# Дарааллын эрүүл мэндийн анхааруулга (app::types::HealthWarning).
health-too-many-dead = Үхсэн ажлын дараалалд { $count } амжилтгүй ажил байна (хязгаар: { $limit })
health-too-many-waiting = { $count } ажил хүлээгдэж байна (хязгаар: { $limit })
health-active-too-long = Нэг ажил { $seconds } секунд ажиллаж байна (хязгаар: { $limit } секунд)
