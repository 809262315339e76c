"""Channels that plug into the gateway: the on-site web widget, Telegram and WhatsApp."""
