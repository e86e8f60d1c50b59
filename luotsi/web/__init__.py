"""The one Litestar server: app factory, controllers, templates, static files."""
