"""Directory pages: areas, staff profiles, specialties, the firm profile, the public directory
and the inquiries it receives."""
