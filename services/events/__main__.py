"""`python -m services.events` runs the events service."""

from services.events.config import EventsSettings
from services.events.main import create_app
from shared.app import serve

settings = EventsSettings()
serve(create_app(settings), settings)
