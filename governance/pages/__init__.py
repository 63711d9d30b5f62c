"""Server-rendered pages for people; see urls.py for the map and access.py for the rules."""
