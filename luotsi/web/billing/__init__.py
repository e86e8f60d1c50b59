"""Billing pages: the firm's billing settings (invoices, runs and payments follow)."""
