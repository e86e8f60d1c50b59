"""Agreement pages: the list, drafts, status changes, reviews, and the client's acceptance link."""
