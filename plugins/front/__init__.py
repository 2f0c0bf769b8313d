"""Front: application webhooks (HMAC-SHA256 + timestamp, challenge handshake) and legacy rule webhooks."""
