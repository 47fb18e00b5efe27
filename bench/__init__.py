"""The pipeline benchmark: `make bench`, `make bench-quick`, `python -m bench --help`."""
