"""`python -m services.registry` runs the registry service."""

from services.registry.config import RegistrySettings
from services.registry.main import create_app
from shared.app import serve

settings = RegistrySettings()
serve(create_app(settings), settings)
