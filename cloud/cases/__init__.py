"""Cases: for now the public-interest cases of rivers and their workflow (docs/cases.md)."""
