"""Portal pages: the HR contact's client portal and the supervisee's portal."""
