"""Custom Rasa components; imported by the Rasa server (.venv-rasa), not by `bot`."""
