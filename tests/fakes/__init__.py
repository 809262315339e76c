"""Local stand-ins for services outside this machine (Telegram's Bot API, Meta's Graph API),
served over real HTTP on loopback."""
