"""Client pages: organisations, their people and the people's portal logins."""
