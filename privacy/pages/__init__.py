"""Pages of the privacy app: a complainant's own data (mine) and the privacy officers' (officer)."""
