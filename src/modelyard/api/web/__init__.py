"""Server-rendered pages: sign-in, sign-out, consent and the account pages, with CSRF."""
