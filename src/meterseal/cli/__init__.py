"""The ``meterseal`` command line."""
