"""Cryptographic algorithms, cipher suites and key-holder interfaces. No I/O."""
