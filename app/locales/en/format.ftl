# Times and lengths of time (crate::format).
time-just-now = just now
time-seconds-ago = { $count } s ago
time-in-seconds = in { $count } s
time-minutes-ago = { $count } min ago
time-in-minutes = in { $count } min
time-hours-ago = { $count } h ago
time-in-hours = in { $count } h
time-days-ago = { $count ->
    [one] { $count } day ago
   *[other] { $count } days ago
}
time-in-days = { $count ->
    [one] in { $count } day
   *[other] in { $count } days
}
duration-ms = { $ms } ms
duration-s = { $seconds } s
duration-min-s = { $min } min { $s } s
duration-h-min = { $h } h { $min } min
duration-d-h = { $d } d { $h } h
