"""Piccolo's configuration: the engine comes from DATABASE_URL (see cosa/settings.py)."""

from piccolo.conf.apps import AppRegistry

from cosa.db import make_engine
from cosa.settings import get_settings

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(
    apps=[
        "cosa.piccolo_app",
        "circles.piccolo_app",
        "volunteers.piccolo_app",
    ]
)
