"""The platform operator's pages under ``/platform/``: firms and their plans, no content."""
