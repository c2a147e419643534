"""Security: the network PKI (certificates for nodes and applications) and TLS contexts."""
