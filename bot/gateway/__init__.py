"""The gateway: every shopper message enters here, is stored, and is answered by the bot
(through Rasa) or by a person (through the staff console)."""
