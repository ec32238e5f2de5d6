# Нэвтрэх хуудас.
login-title = Нэвтрэх
login-username = Нэвтрэх нэр
login-password = Нууц үг
login-submit = Нэвтрэх
