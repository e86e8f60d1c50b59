"""Client invoices, Finvoice and the firm's Luotsi subscription (a later issue)."""
