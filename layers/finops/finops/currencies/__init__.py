"""Currencies: the versioned, effective-dated exchange-rate table and conversions with it."""
