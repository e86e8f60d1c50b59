"""One firm's workspace: staff, regions, clients, agreements, sessions (issues 3-5)."""
