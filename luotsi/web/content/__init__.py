"""Confidential content pages: supervision notes, assignments, goals and evaluations, the
supervisee's own content and data rights, retention and erasure."""
