# The sign-in page.
login-title = Sign in
login-username = Username
login-password = Password
login-submit = Sign in
