# What a refused or failed request means, by its error code (crate::session::error_text).
# English pages show the server's own message; these are its meaning in general.
errors-invalid-field = The value of “{ $field }” is not accepted.
errors-invalid = The request is not valid.
errors-unauthenticated = Please sign in.
errors-bad-credentials = Wrong username or password.
errors-forbidden-field = You may not set “{ $field }”.
errors-forbidden = You are not allowed to do this.
errors-not-found = Not found.
errors-method-not-allowed = This request is not supported.
errors-conflict = It changed in the meantime; reload and try again.
errors-payload-too-large = The data is too large.
errors-rate-limited = Too many attempts; wait a moment and try again.
errors-unavailable = The server cannot be reached or is busy; try again shortly.
errors-internal = Something went wrong on the server.
