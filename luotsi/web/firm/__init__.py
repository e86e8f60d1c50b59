"""The firm's own workspace pages: dashboard, members and invitations, settings."""
