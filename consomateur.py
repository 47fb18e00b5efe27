#!/usr/bin/env python
"""The seed's entry point, kept: `python consomateur.py` runs `python manage.py consume`."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "garage.settings")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "consume", *sys.argv[1:]])
