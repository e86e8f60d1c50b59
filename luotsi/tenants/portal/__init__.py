"""The portals of the client side: :mod:`.hr` (an HR contact's) and :mod:`.supervisee`."""
