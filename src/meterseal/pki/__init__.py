"""The security server's PKI: CA (CWT, X.509) and meter registration."""
