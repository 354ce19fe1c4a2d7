"""`python -m services.reporting` runs the reporting service."""

from services.reporting.config import ReportingSettings
from services.reporting.main import create_app
from shared.app import serve

settings = ReportingSettings()
serve(create_app(settings), settings)
