"""Help Scout: conversation and customer webhooks, HMAC-SHA1 signed, event named in a header."""
