# Цаг хугацаа (crate::format).
time-just-now = дөнгөж сая
time-seconds-ago = { $count } секундын өмнө
time-in-seconds = { $count } секундын дараа
time-minutes-ago = { $count } минутын өмнө
time-in-minutes = { $count } минутын дараа
time-hours-ago = { $count } цагийн өмнө
time-in-hours = { $count } цагийн дараа
time-days-ago = { $count } өдрийн өмнө
time-in-days = { $count } өдрийн дараа
duration-ms = { $ms } мс
duration-s = { $seconds } с
duration-min-s = { $min } мин { $s } с
duration-h-min = { $h } ц { $min } мин
duration-d-h = { $d } хоног { $h } ц
